-- Wireshark/tshark dissector for Neutrino wire versions 2 and 3.
--   v2: shared/spec/neutrino.md §3–§6 (clear header, protected part, word framing, types)
--   v3: shared/spec/neutrino-v3.md §4, §5, §9–§11 (clear header with key-phase bit, HELLO1,
--       HELLO2, COOKIE_REPLY, transport packets with the pn field in clear, pn spaces)
--
--   tshark -X lua_script:tools/wireshark/neutrino.lua -r capture.pcapng
--
-- Every datagram: the clear header (protocol id, version, type code, v3 key phase, session id).
-- v2: the clear CLIENT_HELLO1 in full (pn, keyword, the client's public key word, padding);
-- encrypted packets as nonce and ciphertext. v3: HELLO1 (pattern NK/IK, ephemeral key,
-- encrypted static key and offer, mac1, mac2), HELLO2 (ephemeral key, encrypted answer),
-- COOKIE_REPLY (nonce, encrypted cookie) and, for transport packets, the clear pn field (its
-- space: numbered, or unnumbered shown as u<n>) before the ciphertext and tag.
--
-- Debian's tshark 4.0 Lua has no cipher API, so decrypt the capture first:
--
--   neutrino-monitor decrypt --keylog keys.log capture.pcapng decrypted.pcapng
--
-- Decrypted datagrams (both versions) are `clear header (14) | "NTRPLAIN" | pn u64 | keyword
-- u32 | payload | padding`; for those the dissector also shows packet number, keyword and the
-- payload words (neutrino.decrypted is true). Words use u8 count / u16 sizes (basic, Reliable,
-- every control packet); a DATA payload that does not decode that way but does as u16 count /
-- u32 sizes is shown as Extended framing (neutrino.md §13.3), and an Extended fragment (DATA
-- with keyword >= 1) as raw bytes: its words only exist after reassembly, which this dissector
-- does not do. The v3 handshake payloads (offer, answer, cookie) stay encrypted: they need the
-- Noise state, which the key log does not hold.
--
-- Found on the UDP port of the preference (default 22753, any datagram with the protocol id)
-- and, on any other port, by a heuristic that claims a datagram only when it is a well-formed
-- v2 or v3 packet: protocol id 0x5baa260c (little-endian), version 2 or 3, a type code of that
-- version, the session id and size that type requires and, for v3 transport packets, a pn
-- field in the space of the type.

local neutrino = Proto("neutrino", "Neutrino")

local PROTOCOL_ID = 0x5baa260c
local CLEAR = 14
local MARKER = "NTRPLAIN"
local MAX_DATAGRAM = 1280

local HELLO1, HELLO2, HELLO3 = 0x01, 0x02, 0x03
local KEEP_ALIVE, GOOD_BYE, SHUTDOWN = 0x04, 0x05, 0x06
local COOKIE_REPLY, PATH_CHALLENGE, PATH_RESPONSE = 0x07, 0x08, 0x09
local REQUEST, DATA = 0x21, 0x47

-- neutrino.md §3.2
local v2_types = {
    [HELLO1] = "CLIENT_HELLO1", [HELLO2] = "SERVER_HELLO2", [HELLO3] = "CLIENT_HELLO3",
    [KEEP_ALIVE] = "KEEP_ALIVE", [GOOD_BYE] = "CLIENT_GOOD_BYE", [SHUTDOWN] = "SERVER_SHUTDOWN",
    [REQUEST] = "REQUEST_RETRANSMISSION", [DATA] = "DATA",
}
-- neutrino-v3.md §5: the v2 codes plus three
local v3_types = {}
for k, v in pairs(v2_types) do v3_types[k] = v end
v3_types[COOKIE_REPLY] = "COOKIE_REPLY"
v3_types[PATH_CHALLENGE] = "PATH_CHALLENGE"
v3_types[PATH_RESPONSE] = "PATH_RESPONSE"

-- v3 transport types and their pn space (neutrino-v3.md §10.2); the rest are handshake types.
local v3_unnumbered = { [PATH_CHALLENGE] = true, [PATH_RESPONSE] = true, [REQUEST] = true }
local function v3_is_transport(code)
    return v3_types[code] ~= nil and code ~= HELLO1 and code ~= HELLO2 and code ~= COOKIE_REPLY
end

-- Fields, in display order for `tshark -G fields`.
local f, field_list = {}, {}
local function field(key, pf)
    f[key] = pf
    field_list[#field_list + 1] = pf
end
field("protocol_id", ProtoField.uint32("neutrino.protocol_id", "Protocol id", base.HEX))
field("version", ProtoField.uint8("neutrino.version", "Version", base.DEC))
field("type", ProtoField.uint8("neutrino.type", "Type", base.HEX, v3_types))
field("type_name", ProtoField.string("neutrino.type_name", "Type name"))
field("key_phase", ProtoField.uint8("neutrino.key_phase", "Key phase (low bit)", base.DEC, nil, 0x80))
field("session_id", ProtoField.uint64("neutrino.session_id", "Session id", base.HEX))
-- v2 encrypted packets
field("nonce", ProtoField.bytes("neutrino.nonce", "Nonce"))
field("ciphertext", ProtoField.bytes("neutrino.ciphertext", "Ciphertext (with tag)"))
-- v3 transport packets
field("pn_space", ProtoField.string("neutrino.pn_space", "Packet number space"))
field("unnumbered", ProtoField.uint64("neutrino.unnumbered", "Unnumbered counter (pn - 2^63)", base.DEC))
field("encrypted", ProtoField.bytes("neutrino.encrypted", "Encrypted keyword and payload"))
field("tag", ProtoField.bytes("neutrino.tag", "Poly1305 tag"))
-- v3 handshake packets
field("pattern", ProtoField.uint8("neutrino.pattern", "Noise pattern", base.DEC,
    { [0] = "NK (anonymous client)", [1] = "IK (client static key)" }))
field("reserved", ProtoField.uint8("neutrino.reserved", "Reserved", base.HEX))
field("ephemeral", ProtoField.bytes("neutrino.ephemeral", "Ephemeral public key"))
field("static_encrypted", ProtoField.bytes("neutrino.static_encrypted", "Client static key (encrypted, with tag)"))
field("offer_encrypted", ProtoField.bytes("neutrino.offer_encrypted", "Variant offer and padding (encrypted, with tag)"))
field("answer_encrypted", ProtoField.bytes("neutrino.answer_encrypted", "Answer (encrypted, with tag)"))
field("mac1", ProtoField.bytes("neutrino.mac1", "mac1"))
field("mac2", ProtoField.bytes("neutrino.mac2", "mac2"))
field("cookie_nonce", ProtoField.bytes("neutrino.cookie_nonce", "Nonce"))
field("cookie_encrypted", ProtoField.bytes("neutrino.cookie_encrypted", "Cookie (encrypted, with tag)"))
-- the protected part (v2 HELLO1, decrypted packets)
field("decrypted", ProtoField.bool("neutrino.decrypted", "Decrypted by neutrino-monitor"))
field("packet_number", ProtoField.uint64("neutrino.packet_number", "Packet number", base.DEC))
field("keyword", ProtoField.uint32("neutrino.keyword", "Keyword", base.DEC))
field("framing", ProtoField.string("neutrino.framing", "Word framing"))
field("word_count", ProtoField.uint16("neutrino.word_count", "Word count", base.DEC))
field("word_size", ProtoField.uint32("neutrino.word_size", "Word size", base.DEC))
field("word", ProtoField.bytes("neutrino.word", "Word"))
field("word_text", ProtoField.string("neutrino.word_text", "Word text"))
field("padding", ProtoField.bytes("neutrino.padding", "Padding"))
field("fragment", ProtoField.bytes("neutrino.fragment", "Extended fragment (raw)"))
field("unknown_payload", ProtoField.bytes("neutrino.unknown_payload", "Payload of an unknown version or type"))
-- what some words mean
field("client_key", ProtoField.bytes("neutrino.client_public_key", "Client ephemeral public key"))
field("ka_time", ProtoField.uint64("neutrino.keep_alive.time", "Time (ms since the Unix epoch)", base.DEC))
field("ka_ack", ProtoField.uint64("neutrino.keep_alive.ack", "Acknowledged packet number", base.DEC))
field("requested", ProtoField.uint64("neutrino.requested_pn", "Requested packet number", base.DEC))
field("path_data", ProtoField.bytes("neutrino.path_data", "Path challenge data"))
neutrino.fields = field_list

local e_malformed = ProtoExpert.new("neutrino.malformed", "Malformed Neutrino packet",
    expert.group.MALFORMED, expert.severity.ERROR)
local e_short = ProtoExpert.new("neutrino.short", "Datagram too short for a Neutrino header",
    expert.group.MALFORMED, expert.severity.WARN)
local e_violation = ProtoExpert.new("neutrino.violation", "Not as the Neutrino spec requires",
    expert.group.PROTOCOL, expert.severity.WARN)
local e_unknown = ProtoExpert.new("neutrino.unknown", "Unknown Neutrino version or type",
    expert.group.UNDECODED, expert.severity.WARN)
neutrino.experts = { e_malformed, e_short, e_violation, e_unknown }

neutrino.prefs.port = Pref.uint("UDP port", 22753, "UDP port of Neutrino servers (any datagram with the protocol id)")

------------------------------------------------------------------------------------------------
-- Small helpers. Lua 5.2 numbers are doubles: 64-bit values are read as two u32 halves.

local function u64_parts(buf, at)
    return buf(at, 4):le_uint(), buf(at + 4, 4):le_uint()
end

local function session_ok_ge64(lo, hi)  -- valid session ids 64 … 2^64−1
    return hi > 0 or lo >= 64
end

local function is_marked(buf)
    return buf:len() >= CLEAR + #MARKER and buf(CLEAR, #MARKER):string() == MARKER
end

local function all_zero(buf, at, n)
    for i = at, at + n - 1 do
        if buf(i, 1):uint() ~= 0 then return false end
    end
    return true
end

local function printable(s)
    return s:match("^[\32-\126]*$") ~= nil
end

-- A short text for the Info column: the word as text when printable, else hex.
local function word_summary(range)
    if range == nil then return "\"\"" end
    local s = range:raw()
    if printable(s) then
        if #s > 24 then s = s:sub(1, 21) .. "..." end
        return s
    end
    local h = range:bytes():tohex()
    if #h > 24 then h = h:sub(1, 21) .. "..." end
    return "0x" .. h:lower()
end

-- v3 pn field (neutrino-v3.md §10.2): numbered 1 … 2^63−1, unnumbered 2^63+u (u ≥ 1, and never
-- 2^64−1, REKEY's nonce). Returns "numbered" / "unnumbered" / nil (never sent).
local function v3_space(lo, hi)
    if hi < 0x80000000 then
        if hi == 0 and lo == 0 then return nil end
        return "numbered"
    end
    if hi == 0x80000000 and lo == 0 then return nil end
    if hi == 0xffffffff and lo == 0xffffffff then return nil end
    return "unnumbered"
end

------------------------------------------------------------------------------------------------
-- Heuristic: only well-formed datagrams (a port other than the preference's carries anything).

local function plausible_v2(buf, code, sid_lo, sid_hi, marked)
    if v2_types[code] == nil then return false end
    local len = buf:len()
    if code == HELLO1 and not marked then  -- neutrino.md §6.1: session id 2, exactly 1280
        return sid_hi == 0 and sid_lo == 2 and len == MAX_DATAGRAM
    end
    if not session_ok_ge64(sid_lo, sid_hi) then return false end
    if marked then  -- header, marker, pn, keyword, ≥ 1 payload byte; 1280 − 40 + 8 at most
        return len >= CLEAR + #MARKER + 13 and len <= MAX_DATAGRAM + #MARKER
    end
    return len >= 67 and len <= MAX_DATAGRAM  -- 66 + P, P ≥ 1 (neutrino.md §4.3)
end

local function plausible_v3(buf, code, phase, sid_lo, sid_hi, marked)
    if v3_types[code] == nil then return false end
    local len = buf:len()
    if not v3_is_transport(code) then  -- handshake: phase bit 0 (neutrino-v3.md §4.1)
        if phase ~= 0 or marked then return false end
        if code == HELLO1 then  -- §4.2: session id 2, 1280 bytes, pattern 0/1, reserved 0
            return sid_hi == 0 and sid_lo == 2 and len == MAX_DATAGRAM
                and buf(14, 1):uint() <= 1 and buf(15, 1):uint() == 0
        elseif code == HELLO2 then  -- §4.3: the new session id, or 2 on a refusal; 78 bytes
            return len == 78 and ((sid_hi == 0 and sid_lo == 2) or session_ok_ge64(sid_lo, sid_hi))
        else  -- COOKIE_REPLY, §4.4: session id 2, 70 bytes
            return len == 70 and sid_hi == 0 and sid_lo == 2
        end
    end
    if not session_ok_ge64(sid_lo, sid_hi) then return false end
    local pn_at = marked and CLEAR + #MARKER or CLEAR
    if marked then  -- header, marker, pn, keyword, ≥ 1 payload byte; the tag is gone
        if len < pn_at + 13 or len > MAX_DATAGRAM + #MARKER then return false end
    elseif len < 43 or len > MAX_DATAGRAM then  -- §4.5: 43–1280
        return false
    end
    local space = v3_space(u64_parts(buf, pn_at))
    return space ~= nil and (space == "unnumbered") == (v3_unnumbered[code] == true)
end

local function looks_like_neutrino(buf)
    if buf:len() < CLEAR or buf(0, 4):le_uint() ~= PROTOCOL_ID then return false end
    local version, tbyte = buf(4, 1):uint(), buf(5, 1):uint()
    local sid_lo, sid_hi = u64_parts(buf, 6)
    local marked = is_marked(buf)
    if version == 2 then return plausible_v2(buf, tbyte, sid_lo, sid_hi, marked) end
    if version == 3 then
        return plausible_v3(buf, tbyte % 0x80, math.floor(tbyte / 0x80), sid_lo, sid_hi, marked)
    end
    return false
end

------------------------------------------------------------------------------------------------
-- Payload words (neutrino.md §5; neutrino-v3.md §2.1): count then count × (size, bytes), then
-- only zero padding. Returns { count, words = { {at, size} … }, finish, err }.

local function parse_words(buf, at, len, count_size, size_size)
    local r = { count = 0, words = {}, finish = at }
    if len - at < count_size then
        r.err = "no word count"
        return r
    end
    r.count = buf(at, count_size):le_uint()
    local p = at + count_size
    for i = 1, r.count do
        if len - p < size_size then
            r.err = "word " .. i .. ": its size runs past the end"
            r.finish = p
            return r
        end
        local size = buf(p, size_size):le_uint()
        if len - p - size_size < size then
            r.err = "word " .. i .. ": " .. size .. " bytes run past the end"
            r.finish = p
            return r
        end
        r.words[#r.words + 1] = { at = p, size = size }
        p = p + size_size + size
    end
    r.finish = p
    if not all_zero(buf, p, len - p) then r.err = "non-zero bytes after the last word" end
    return r
end

-- Shows the words; returns the list of their data ranges (false for an empty word).
local function show_words(buf, tree, at, len, r, count_size, size_size, framing)
    tree:add(f.framing, buf(at, 0), framing)
    local wt = tree:add(f.word_count, buf(at, math.min(count_size, len - at)), r.count)
    local ranges = {}
    for i, w in ipairs(r.words) do
        local data = w.size > 0 and buf(w.at + size_size, w.size) or nil
        local item = wt:add(buf(w.at, size_size + w.size), "Word " .. i .. " (" .. w.size .. " bytes)")
        item:add(f.word_size, buf(w.at, size_size), w.size)
        if data ~= nil then
            item:add(f.word, data)
            local s = data:raw()
            if printable(s) then
                item:add(f.word_text, data, s)
                item:append_text(": \"" .. s .. "\"")
            end
        end
        ranges[i] = data or false
    end
    if r.err ~= nil then
        wt:add_proto_expert_info(e_malformed, r.err)
    elseif r.finish < len then
        tree:add(f.padding, buf(r.finish, len - r.finish))
    end
    return ranges
end

-- What the words of a control packet mean (neutrino.md §6, neutrino-v3.md §5).
local function annotate_words(tree, version, code, ranges)
    local function word8(i)
        local w = ranges[i]
        if w and w:len() == 8 then return w end
        return nil
    end
    if code == HELLO1 and version == 2 and #ranges == 1 and ranges[1] and ranges[1]:len() == 32 then
        tree:add(f.client_key, ranges[1])
    elseif code == KEEP_ALIVE and #ranges == 2 and word8(1) and word8(2) then  -- Reliable
        local t = tree:add_le(f.ka_time, ranges[1])
        local ms = ranges[1]:le_uint64():tonumber()
        t:append_text(string.format(" (%s.%03d UTC)", os.date("!%Y-%m-%d %H:%M:%S", math.floor(ms / 1000)), ms % 1000))
        tree:add_le(f.ka_ack, ranges[2])
    elseif code == REQUEST and #ranges == 1 and word8(1) then
        tree:add_le(f.requested, ranges[1])
    elseif (code == PATH_CHALLENGE or code == PATH_RESPONSE) and #ranges == 1 and word8(1) then
        tree:add(f.path_data, ranges[1])
    end
end

-- The v3 pn field (clear, authenticated); returns the Info text.
local function show_v3_pn(buf, tree, at, code)
    local item = tree:add_le(f.packet_number, buf(at, 8))
    local lo, hi = u64_parts(buf, at)
    local space = v3_space(lo, hi)
    if space == nil then
        item:add_proto_expert_info(e_violation, "0, 2^63 and 2^64-1 are never sent")
        return " pn=" .. tostring(buf(at, 8):le_uint64())
    end
    tree:add(f.pn_space, buf(at, 8), space)
    if (space == "unnumbered") ~= (v3_unnumbered[code] == true) then
        item:add_proto_expert_info(e_violation, "pn space does not match the type (neutrino-v3.md §10.2)")
    end
    if code == HELLO3 and not (hi == 0 and lo == 1) then
        item:add_proto_expert_info(e_violation, "CLIENT_HELLO3 is always pn 1")
    end
    if space == "unnumbered" then
        local u = UInt64.new(lo, hi - 0x80000000)
        tree:add(f.unnumbered, buf(at, 8), u)
        item:append_text(" (unnumbered u" .. tostring(u) .. ")")
        return " pn=u" .. tostring(u)
    end
    return " pn=" .. tostring(buf(at, 8):le_uint64())
end

-- The protected part: pn u64, keyword u32, payload, padding. Returns text for the Info column
-- (`note` follows the pn there).
local function dissect_protected(buf, tree, at, version, code, note)
    local len = buf:len()
    if len - at < 12 then
        tree:add_proto_expert_info(e_malformed, "protected part shorter than 12 bytes")
        return note
    end
    local pt = tree:add(buf(at, len - at), "Protected part")
    local info
    if version == 3 then
        info = show_v3_pn(buf, pt, at, code)
    else
        local pn_item = pt:add_le(f.packet_number, buf(at, 8))
        local lo, hi = u64_parts(buf, at)
        if hi == 0 and lo == 1 then
            pn_item:append_text(" (NONE: unnumbered)")
        elseif hi == 0 and lo == 2 then
            pn_item:append_text(" (PENDING)")
        end
        info = " pn=" .. tostring(buf(at, 8):le_uint64())
    end
    info = info .. note
    local kw_item = pt:add_le(f.keyword, buf(at + 8, 4))
    local keyword = buf(at + 8, 4):le_uint()
    if keyword ~= 0 and code ~= DATA then
        kw_item:add_proto_expert_info(e_violation, "keyword must be 0 on every packet but DATA")
    end
    at = at + 12
    if at >= len then
        pt:add_proto_expert_info(e_malformed, "no payload (an empty word list is one byte)")
        return info
    end
    if code == DATA and keyword >= 1 then  -- Extended fragment: raw bytes (neutrino.md §13.3)
        pt:add(f.fragment, buf(at, len - at))
            :append_text(" (" .. keyword .. " fragments left, this one included)")
        return info .. " fragment=" .. keyword
    end
    local ranges
    local r = parse_words(buf, at, len, 1, 2)
    if r.err ~= nil and code == DATA then
        local x = parse_words(buf, at, len, 2, 4)
        if x.err == nil then
            ranges = show_words(buf, pt, at, len, x, 2, 4, "u16 count, u32 sizes (Extended)")
        end
    end
    if ranges == nil then ranges = show_words(buf, pt, at, len, r, 1, 2, "u8 count, u16 sizes") end
    annotate_words(pt, version, code, ranges)
    local parts = {}
    for i, w in ipairs(ranges) do
        if i > 6 then
            parts[#parts + 1] = "..."
            break
        end
        parts[#parts + 1] = word_summary(w or nil)
    end
    return info .. " words=[" .. table.concat(parts, ", ") .. "]"
end

------------------------------------------------------------------------------------------------
-- The encrypted forms.

local function dissect_v2_encrypted(buf, tree)
    local len = buf:len()
    if len < CLEAR + 24 + 16 then
        tree:add_proto_expert_info(e_malformed, "too short for a nonce and a tag")
        if len > CLEAR then tree:add(f.ciphertext, buf(CLEAR, len - CLEAR)) end
        return
    end
    if len < 67 then tree:add_proto_expert_info(e_violation, "shorter than 67 bytes (66 + an empty word list)") end
    tree:add(f.nonce, buf(CLEAR, 24))
    tree:add(f.ciphertext, buf(CLEAR + 24, len - CLEAR - 24))
end

local function expect_size(tree, len, want, what)
    if len ~= want then
        tree:add_proto_expert_info(e_violation, what .. " must be exactly " .. want .. " bytes, not " .. len)
    end
    return len >= want
end

local function dissect_v3_handshake(buf, tree, code, sid_lo, sid_hi)
    local len = buf:len()
    if code == HELLO1 then  -- neutrino-v3.md §4.2
        if not expect_size(tree, len, MAX_DATAGRAM, "CLIENT_HELLO1") then return "" end
        local pattern = buf(14, 1):uint()
        local p = tree:add(f.pattern, buf(14, 1))
        if pattern > 1 then p:add_proto_expert_info(e_violation, "pattern must be 0 (NK) or 1 (IK)") end
        local rsv = tree:add(f.reserved, buf(15, 1))
        if buf(15, 1):uint() ~= 0 then rsv:add_proto_expert_info(e_violation, "reserved must be 0") end
        tree:add(f.ephemeral, buf(16, 32))
        local at = 48
        if pattern == 1 then
            tree:add(f.static_encrypted, buf(48, 48))
            at = 96
        end
        tree:add(f.offer_encrypted, buf(at, 1248 - at))
        tree:add(f.mac1, buf(1248, 16))
        local m2 = tree:add(f.mac2, buf(1264, 16))
        local cookie = not all_zero(buf, 1264, 16)
        m2:append_text(cookie and " (with a cookie)" or " (all zero: no cookie)")
        return pattern == 1 and " IK" or (pattern == 0 and " NK" or "")
    elseif code == HELLO2 then  -- §4.3
        if not expect_size(tree, len, 78, "SERVER_HELLO2") then return "" end
        tree:add(f.ephemeral, buf(14, 32))
        tree:add(f.answer_encrypted, buf(46, 32))
        if sid_hi == 0 and sid_lo == 2 then return " (refusal: session id 2)" end
        return ""
    else  -- COOKIE_REPLY, §4.4
        if not expect_size(tree, len, 70, "COOKIE_REPLY") then return "" end
        tree:add(f.cookie_nonce, buf(14, 24))
        tree:add(f.cookie_encrypted, buf(38, 32))
        return ""
    end
end

------------------------------------------------------------------------------------------------

function neutrino.dissector(buf, pinfo, root)
    local len = buf:len()
    if len < CLEAR then
        local t = root:add(neutrino, buf(), "Neutrino (truncated)")
        t:add_proto_expert_info(e_short)
        return 0
    end
    if buf(0, 4):le_uint() ~= PROTOCOL_ID then return 0 end
    local version, tbyte = buf(4, 1):uint(), buf(5, 1):uint()
    local v3 = version == 3
    local code = v3 and tbyte % 0x80 or tbyte
    local phase = v3 and math.floor(tbyte / 0x80) or 0
    local known_version = version == 2 or v3
    local names = v3 and v3_types or (known_version and v2_types or {})
    local name = names[code] or string.format("UNKNOWN (0x%02x)", tbyte)
    local sid_lo, sid_hi = u64_parts(buf, 6)
    local marked = is_marked(buf)

    pinfo.cols.protocol = known_version and ("Neutrino" .. version) or "Neutrino"
    local tree = root:add(neutrino, buf(), string.format("Neutrino, wire v%d, %s", version, name))

    local hdr = tree:add(buf(0, CLEAR), "Clear header")
    hdr:add_le(f.protocol_id, buf(0, 4))
    local vi = hdr:add(f.version, buf(4, 1))
    if not known_version then
        vi:add_proto_expert_info(e_unknown, "version " .. version .. ": this dissector knows 2 and 3")
    end
    local ti
    if names[code] ~= nil then
        ti = hdr:add(f.type, buf(5, 1), code)
    else  -- not the name the union table would give (v2 has no 0x07–0x09)
        ti = hdr:add(f.type, buf(5, 1), code, string.format("Type: UNKNOWN (0x%02x)", code))
    end
    hdr:add(f.type_name, buf(5, 1), names[code] or "UNKNOWN")
    if names[code] == nil and known_version then
        ti:add_proto_expert_info(e_unknown, string.format("type 0x%02x is not a wire v%d type", tbyte, version))
    end
    if v3 then
        local ki = hdr:add(f.key_phase, buf(5, 1))
        if phase ~= 0 and not v3_is_transport(code) then
            ki:add_proto_expert_info(e_violation, "handshake packets have key phase 0")
        end
    end
    local si = hdr:add_le(f.session_id, buf(6, 8))
    if known_version and sid_hi == 0 and ((v3 and sid_lo == 2) or (not v3 and sid_lo == 1)) then
        si:append_text(" (NONE)")  -- v2 §3.3: 1; v3 §3.2: 2
    elseif version == 2 and sid_hi == 0 and sid_lo == 2 then
        si:append_text(" (PENDING)")
    end
    local sid_ok, sid_rule  -- what the type requires (v2 §3.3, §6; v3 §4), checked below
    if code == HELLO1 or code == COOKIE_REPLY then
        sid_ok, sid_rule = sid_hi == 0 and sid_lo == 2, "session id 2"
    elseif v3 and code == HELLO2 then
        sid_ok = (sid_hi == 0 and sid_lo == 2) or session_ok_ge64(sid_lo, sid_hi)
        sid_rule = "a session id of 64 … 2^64-1, or 2 on a refusal"
    else
        sid_ok, sid_rule = session_ok_ge64(sid_lo, sid_hi), "a session id of 64 … 2^64-1"
    end

    local info = name .. " session=" .. tostring(buf(6, 8):le_uint64():tohex())
    if phase ~= 0 then info = info .. " kp=1" end
    if names[code] == nil then  -- unknown version or type: nothing more is known
        if len > CLEAR then tree:add(f.unknown_payload, buf(CLEAR, len - CLEAR)) end
        pinfo.cols.info = info
        return len
    end
    if not sid_ok then si:add_proto_expert_info(e_violation, name .. " carries " .. sid_rule) end
    if marked then
        tree:add(f.decrypted, buf(CLEAR, #MARKER), true)
        info = info .. dissect_protected(buf, tree, CLEAR + #MARKER, version, code, " (decrypted)")
    elseif not v3 then
        if code == HELLO1 then  -- the only clear v2 packet (neutrino.md §6.1)
            if len ~= MAX_DATAGRAM then tree:add_proto_expert_info(e_violation, "CLIENT_HELLO1 is 1280 bytes") end
            info = info .. dissect_protected(buf, tree, CLEAR, version, code, "")
        else
            dissect_v2_encrypted(buf, tree)
            info = info .. " (encrypted)"
        end
    elseif not v3_is_transport(code) then
        info = info .. dissect_v3_handshake(buf, tree, code, sid_lo, sid_hi)
    else  -- neutrino-v3.md §4.5: header, pn field, ciphertext, tag
        if len < 22 + 16 then
            tree:add_proto_expert_info(e_malformed, "too short for a pn field and a tag")
        else
            if len < 43 then tree:add_proto_expert_info(e_violation, "transport packets are at least 43 bytes") end
            info = info .. show_v3_pn(buf, tree, CLEAR, code) .. " (encrypted)"
            if len > 22 + 16 then tree:add(f.encrypted, buf(22, len - 22 - 16)) end
            tree:add(f.tag, buf(len - 16, 16))
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
