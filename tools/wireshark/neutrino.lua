-- Wireshark/tshark dissector for Neutrino wire version 2 (spec: shared/spec/neutrino.md §4).
--
--   tshark -X lua_script:tools/wireshark/neutrino.lua -r capture.pcapng
--
-- Shows the clear header of every datagram (protocol id, version, type, session id) and, for
-- the clear CLIENT_HELLO1, its packet number, keyword and words. Encrypted packets show nonce and
-- ciphertext; Debian's tshark 4.0 Lua has no cipher API, so decrypt the capture first:
--
--   neutrino-monitor decrypt --keylog keys.log capture.pcapng decrypted.pcapng
--
-- Decrypted datagrams are `clear header (14) | "NTRPLAIN" | protected part`; for those the
-- dissector shows packet number, keyword and words too (neutrino.decrypted is true).
-- Found on the UDP port of the preference (default 22753) and, heuristically, on any UDP
-- datagram starting with the protocol id 0x5baa260c (little-endian) and version 2.

local neutrino = Proto("neutrino", "Neutrino")

local type_names = {
    [0x01] = "CLIENT_HELLO1", [0x02] = "SERVER_HELLO2", [0x03] = "CLIENT_HELLO3",
    [0x04] = "KEEP_ALIVE", [0x05] = "CLIENT_GOOD_BYE", [0x06] = "SERVER_SHUTDOWN",
    [0x21] = "REQUEST_RETRANSMISSION", [0x47] = "DATA",
}

local f = {
    protocol_id = ProtoField.uint32("neutrino.protocol_id", "Protocol id", base.HEX),
    version = ProtoField.uint8("neutrino.version", "Version", base.DEC),
    type = ProtoField.uint8("neutrino.type", "Type", base.HEX, type_names),
    session_id = ProtoField.uint64("neutrino.session_id", "Session id", base.HEX),
    nonce = ProtoField.bytes("neutrino.nonce", "Nonce"),
    ciphertext = ProtoField.bytes("neutrino.ciphertext", "Ciphertext (with tag)"),
    decrypted = ProtoField.bool("neutrino.decrypted", "Decrypted by neutrino-monitor"),
    packet_number = ProtoField.uint64("neutrino.packet_number", "Packet number", base.DEC),
    keyword = ProtoField.uint32("neutrino.keyword", "Keyword", base.DEC),
    word_count = ProtoField.uint8("neutrino.word_count", "Word count", base.DEC),
    word_size = ProtoField.uint16("neutrino.word_size", "Word size", base.DEC),
    word = ProtoField.bytes("neutrino.word", "Word"),
    word_text = ProtoField.string("neutrino.word_text", "Word text"),
    padding = ProtoField.bytes("neutrino.padding", "Padding"),
}
neutrino.fields = { f.protocol_id, f.version, f.type, f.session_id, f.nonce, f.ciphertext,
    f.decrypted, f.packet_number, f.keyword, f.word_count, f.word_size, f.word, f.word_text,
    f.padding }

local e_malformed = ProtoExpert.new("neutrino.malformed", "Malformed Neutrino packet",
    expert.group.MALFORMED, expert.severity.ERROR)
local e_short = ProtoExpert.new("neutrino.short", "Datagram too short for a Neutrino header",
    expert.group.MALFORMED, expert.severity.WARN)
neutrino.experts = { e_malformed, e_short }

neutrino.prefs.port = Pref.uint("UDP port", 22753, "UDP port of Neutrino servers")

local PROTOCOL_ID = 0x5baa260c
local CLEAR = 14
local MARKER = "NTRPLAIN"

local function printable(s)
    return s:match("^[\32-\126]*$") ~= nil
end

-- pn u64 LE, keyword u32 LE, words (u8 count, u16 LE sizes), zero padding.
local function dissect_protected(buf, tree, at)
    local len = buf:len()
    if len - at < 12 then
        tree:add_proto_expert_info(e_malformed, "protected part shorter than 12 bytes")
        return
    end
    tree:add_le(f.packet_number, buf(at, 8))
    tree:add_le(f.keyword, buf(at + 8, 4))
    at = at + 12
    if at >= len then return end
    local count = buf(at, 1):uint()
    local words = tree:add(f.word_count, buf(at, 1))
    at = at + 1
    for i = 1, count do
        if len - at < 2 then
            words:add_proto_expert_info(e_malformed, "word " .. i .. ": size runs past the end")
            return
        end
        local size = buf(at, 2):le_uint()
        if len - at - 2 < size then
            words:add_proto_expert_info(e_malformed, "word " .. i .. ": " .. size .. " bytes run past the end")
            return
        end
        words:add_le(f.word_size, buf(at, 2))
        if size > 0 then
            local w = buf(at + 2, size)
            words:add(f.word, w)
            local s = w:string()
            if printable(s) then words:add(f.word_text, w, s) end
        end
        at = at + 2 + size
    end
    if at < len then tree:add(f.padding, buf(at, len - at)) end
end

local function looks_like_neutrino(buf)
    return buf:len() >= CLEAR and buf(0, 4):le_uint() == PROTOCOL_ID and buf(4, 1):uint() == 2
end

function neutrino.dissector(buf, pinfo, root)
    local len = buf:len()
    if len < CLEAR then
        local t = root:add(neutrino, buf(), "Neutrino (truncated)")
        t:add_proto_expert_info(e_short)
        return 0
    end
    if buf(0, 4):le_uint() ~= PROTOCOL_ID then return 0 end
    pinfo.cols.protocol = "Neutrino"
    local tree = root:add(neutrino, buf(), "Neutrino")
    tree:add_le(f.protocol_id, buf(0, 4))
    tree:add(f.version, buf(4, 1))
    local ptype = buf(5, 1):uint()
    tree:add(f.type, buf(5, 1))
    tree:add_le(f.session_id, buf(6, 8))
    local name = type_names[ptype] or string.format("UNKNOWN (0x%02x)", ptype)
    local info = name .. " session=" .. tostring(buf(6, 8):le_uint64():tohex())
    if len >= CLEAR + #MARKER and buf(CLEAR, #MARKER):string() == MARKER then
        tree:add(f.decrypted, buf(CLEAR, #MARKER), true)
        dissect_protected(buf, tree, CLEAR + #MARKER)
        if len >= CLEAR + #MARKER + 8 then
            info = info .. " pn=" .. tostring(buf(CLEAR + #MARKER, 8):le_uint64())
        end
        info = info .. " (decrypted)"
    elseif ptype == 0x01 then
        dissect_protected(buf, tree, CLEAR)  -- CLIENT_HELLO1 is clear
    else
        if len < CLEAR + 24 then
            tree:add_proto_expert_info(e_malformed, "too short for a nonce")
        else
            tree:add(f.nonce, buf(CLEAR, 24))
            if len > CLEAR + 24 then tree:add(f.ciphertext, buf(CLEAR + 24, len - CLEAR - 24)) end
        end
    end
    pinfo.cols.info = info
    return len
end

local function heuristic(buf, pinfo, root)
    if not looks_like_neutrino(buf) then return false end
    neutrino.dissector(buf, pinfo, root)
    return true
end

local udp_port = DissectorTable.get("udp.port")
local registered_port = neutrino.prefs.port
udp_port:add(registered_port, neutrino)
neutrino:register_heuristic("udp", heuristic)

function neutrino.prefs_changed()
    if registered_port ~= neutrino.prefs.port then
        udp_port:remove(registered_port, neutrino)
        registered_port = neutrino.prefs.port
        udp_port:add(registered_port, neutrino)
    end
end
