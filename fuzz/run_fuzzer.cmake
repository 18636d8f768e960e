# Runs one libFuzzer target for a CTest test (see CMakeLists.txt): empties SCRATCH, then
# fuzzes with SCRATCH as the writable corpus and SEEDS (the committed corpus) read only.
# Inputs: FUZZER, SCRATCH, SEEDS, ARGS (a ;-list of libFuzzer flags).
file(REMOVE_RECURSE "${SCRATCH}")
file(MAKE_DIRECTORY "${SCRATCH}/corpus" "${SCRATCH}/artifacts")
execute_process(
    COMMAND "${FUZZER}" ${ARGS} "${SCRATCH}/corpus" "${SEEDS}"
    RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    file(GLOB artifacts "${SCRATCH}/artifacts/*")
    message(FATAL_ERROR "${FUZZER} failed (${rc}); reproducers: ${artifacts}")
endif()
