-- Wireshark/tshark dissector for QOTP, wire W2 (shared/spec/qotp.md §3, §4, §6, §9).
--
--   tshark -X lua_script:tools/wireshark/qotp.lua -r capture.pcapng
--   (with Neutrino too: -X lua_script:tools/wireshark/neutrino.lua -X lua_script:…/qotp.lua)
--
-- Every datagram: the type byte (type in bits 7–5, version 0 in bits 4–0) and the connection id
-- (bytes 1..8, the u64 read little-endian, as the key log prints it, §4.8, §19). Then by type:
-- InitSnd (ephemeral and identity keys, maxPayload, padding), InitCryptoSnd (keys), InitRcv (id,
-- ephemeral and identity keys), InitCryptoRcv (id, ephemeral key), Data (id); for the encrypted
-- ones the encrypted sequence number, the ciphertext and the tag.
--
-- Debian's tshark 4.0 Lua has no cipher API, so decrypt the capture first:
--
--   neutrino-monitor decrypt --keylog keys.log capture.pcapng decrypted.pcapng
--
-- Decrypted datagrams are `clear header | "QOTPLAIN" | sn u48 LE | transport payload` (the
-- header as sent: 73 InitRcv, 65 InitCryptoSnd, 41 InitCryptoRcv, 9 Data); for those the
-- dissector shows the sequence number and the transport payload of §9: flags, maxPayload,
-- rcvWnd (with the §10 decoding), the ACK block, KU/KUA keys, the stream header and data
-- (qotp.decrypted is true).
--
-- A separate file from neutrino.lua: another protocol with its own fields (qotp.*) and
-- preference, and Neutrino's dissection stays as it was. The two never claim each other's
-- datagrams: Neutrino's first byte is 0x0c (its protocol id), whose low 5 bits are not 0.
--
-- Found on the UDP port of the preference (default 0: none; any datagram with a valid type
-- byte) and, on any port, by a heuristic that claims only
--   * an InitSnd: type byte 0x00, at least 1232 bytes, zero padding after byte 66 (§4.1);
--   * an InitCryptoSnd: type byte 0x40, exactly 1232 bytes (§4.2);
--   * a decrypted datagram: the marker at the end of its type's header;
--   * an InitRcv, InitCryptoRcv or Data of the sizes of §4.6 whose connection id an InitSnd or
--     InitCryptoSnd of the same capture announced (bytes 1..8 of its ephemeral key).
-- So RTP (first byte 0x80) and other traffic are not taken for Data. A capture that starts
-- after the handshake needs the port preference.

local qotp = Proto("qotp", "QOTP")

local MARKER = "QOTPLAIN"
local INIT_SIZE = 1232  -- §4.1, §4.2
local INIT_SND, INIT_RCV, INIT_CRYPTO_SND, INIT_CRYPTO_RCV, DATA = 0, 1, 2, 3, 4

local type_names = {
    [INIT_SND] = "InitSnd", [INIT_RCV] = "InitRcv", [INIT_CRYPTO_SND] = "InitCryptoSnd",
    [INIT_CRYPTO_RCV] = "InitCryptoRcv", [DATA] = "Data",
}
-- §3: the plaintext header (AAD) of each encrypted type; §4.6: the smallest datagram of each.
local header_size = { [INIT_RCV] = 73, [INIT_CRYPTO_SND] = 65, [INIT_CRYPTO_RCV] = 41, [DATA] = 9 }
local min_size = { [INIT_SND] = INIT_SIZE, [INIT_RCV] = 106, [INIT_CRYPTO_SND] = INIT_SIZE,
    [INIT_CRYPTO_RCV] = 74, [DATA] = 42 }
local SN, TAG = 6, 16

local f, field_list = {}, {}
local function field(key, pf)
    f[key] = pf
    field_list[#field_list + 1] = pf
end
local type_values = {}
for k, v in pairs(type_names) do type_values[k * 32] = v end
field("type", ProtoField.uint8("qotp.type", "Type", base.HEX, type_values, 0xe0))
field("type_name", ProtoField.string("qotp.type_name", "Type name"))
field("version", ProtoField.uint8("qotp.version", "Version", base.DEC, nil, 0x1f))
field("connection_id", ProtoField.uint64("qotp.connection_id", "Connection id", base.HEX))
field("ephemeral", ProtoField.bytes("qotp.ephemeral", "Ephemeral public key"))
field("identity", ProtoField.bytes("qotp.identity", "Identity public key"))
field("init_max_payload", ProtoField.uint16("qotp.init_max_payload", "maxPayload", base.DEC))
field("padding", ProtoField.bytes("qotp.padding", "Padding"))
field("encrypted_sn", ProtoField.bytes("qotp.encrypted_sn", "Sequence number (encrypted)"))
field("ciphertext", ProtoField.bytes("qotp.ciphertext", "Encrypted transport payload"))
field("tag", ProtoField.bytes("qotp.tag", "Poly1305 tag"))
-- decrypted
field("decrypted", ProtoField.bool("qotp.decrypted", "Decrypted by neutrino-monitor"))
field("sn", ProtoField.uint64("qotp.sn", "Sequence number", base.DEC))
field("flags", ProtoField.uint8("qotp.flags", "Flags", base.HEX))
field("has_ack", ProtoField.bool("qotp.flags.ack", "hasAck", 8, nil, 0x01))
field("has_stream", ProtoField.bool("qotp.flags.stream", "hasStream", 8, nil, 0x02))
field("extend", ProtoField.bool("qotp.flags.extend", "extend (48-bit offsets)", 8, nil, 0x04))
field("close", ProtoField.bool("qotp.flags.close", "isClose", 8, nil, 0x08))
field("key_update", ProtoField.bool("qotp.flags.key_update", "isKeyUpdate", 8, nil, 0x10))
field("key_update_ack", ProtoField.bool("qotp.flags.key_update_ack", "isKeyUpdateAck", 8, nil, 0x20))
field("max_payload", ProtoField.uint16("qotp.max_payload", "maxPayload", base.DEC))
field("rcv_wnd", ProtoField.uint8("qotp.rcv_wnd", "rcvWnd (encoded)", base.DEC))
field("ack_stream_id", ProtoField.uint32("qotp.ack.stream_id", "ACK stream id", base.DEC))
field("ack_offset", ProtoField.uint64("qotp.ack.offset", "ACK offset", base.DEC))
field("ack_length", ProtoField.uint16("qotp.ack.length", "ACK length", base.DEC))
field("ku", ProtoField.bytes("qotp.ku", "KU: new ephemeral public key"))
field("kua", ProtoField.bytes("qotp.kua", "KUA: answering ephemeral public key"))
field("stream_id", ProtoField.uint32("qotp.stream_id", "Stream id", base.DEC, nil, 0x7fffffff))
field("best_effort", ProtoField.bool("qotp.best_effort", "Best-effort stream", 32, nil, 0x80000000))
field("offset", ProtoField.uint64("qotp.offset", "Stream offset", base.DEC))
field("data", ProtoField.bytes("qotp.data", "Stream data"))
field("data_length", ProtoField.uint32("qotp.data_length", "Stream data length", base.DEC))
field("data_text", ProtoField.string("qotp.data_text", "Stream data text"))
qotp.fields = field_list

local e_malformed = ProtoExpert.new("qotp.malformed", "Malformed QOTP datagram",
    expert.group.MALFORMED, expert.severity.ERROR)
local e_violation = ProtoExpert.new("qotp.violation", "Not as the QOTP spec requires",
    expert.group.PROTOCOL, expert.severity.WARN)
qotp.experts = { e_malformed, e_violation }

qotp.prefs.port = Pref.uint("UDP port", 0, "UDP port of QOTP listeners (0: none, the heuristic only)")

------------------------------------------------------------------------------------------------

local known_ids = {}  -- connection ids announced by InitSnd / InitCryptoSnd in this capture

function qotp.init()
    known_ids = {}
end

local function all_zero(buf, at, n)
    for i = at, at + n - 1 do
        if buf(i, 1):uint() ~= 0 then return false end
    end
    return true
end

local function id_key(buf)
    return buf(1, 8):le_uint64():tohex()
end

local function marked(buf, t)
    local h = header_size[t]
    return h ~= nil and buf:len() >= h + #MARKER and buf(h, #MARKER):string() == MARKER
end

-- spec: qotp.md §10 — the bytes an 8-bit rcvWnd stands for.
local function rcv_wnd_bytes(e)
    if e == 0 then return 0 end
    if e == 1 then return 128 end
    local a = e - 2
    local base = 2 ^ (math.floor(a / 8) + 8)
    return base + (a % 8) * (base / 8)
end

local function looks_like_qotp(buf)
    local len = buf:len()
    if len < 9 then return false end
    local b0 = buf(0, 1):uint()
    if b0 % 32 ~= 0 then return false end  -- §3: version 0 (Neutrino's 0x0c fails here)
    local t = math.floor(b0 / 32)
    if type_names[t] == nil then return false end
    if marked(buf, t) then return len >= header_size[t] + #MARKER + SN + 4 end
    if len < min_size[t] then return false end
    if t == INIT_SND then  -- §4.1: keys, maxPayload, then zero padding to 1232
        if all_zero(buf, 1, 32) or not all_zero(buf, 67, len - 67) then return false end
        known_ids[id_key(buf)] = true
        return true
    elseif t == INIT_CRYPTO_SND then  -- §4.2: exactly 1232
        if len ~= INIT_SIZE or all_zero(buf, 1, 32) then return false end
        known_ids[id_key(buf)] = true
        return true
    end
    return known_ids[id_key(buf)] == true
end

------------------------------------------------------------------------------------------------

-- §9: the transport payload (W2). Returns text for the Info column.
local function dissect_payload(buf, tree, at)
    local len = buf:len()
    if len - at < 4 then
        tree:add_proto_expert_info(e_malformed, "transport payload shorter than 4 bytes")
        return ""
    end
    local pt = tree:add(buf(at, len - at), "Transport payload")
    local flags = buf(at, 1):uint()
    local fi = pt:add(f.flags, buf(at, 1))
    for _, k in ipairs({ "has_ack", "has_stream", "extend", "close", "key_update", "key_update_ack" }) do
        fi:add(f[k], buf(at, 1))
    end
    local function bit(mask) return math.floor(flags / mask) % 2 == 1 end
    local ext = bit(0x04)
    local off_size = ext and 6 or 3
    local function offset_of(p)
        local lo = buf(p, 3):le_uint()
        if not ext then return UInt64.new(lo, 0) end
        return UInt64.new(lo + buf(p + 3, 1):uint() * 0x1000000, buf(p + 4, 2):le_uint())
    end
    pt:add_le(f.max_payload, buf(at + 1, 2))
    local w = buf(at + 3, 1):uint()
    pt:add(f.rcv_wnd, buf(at + 3, 1)):append_text(string.format(" (%.0f bytes)", rcv_wnd_bytes(w)))
    local p = at + 4
    local info = ""
    local function need(n, what)
        if len - p < n then
            pt:add_proto_expert_info(e_malformed, what .. " cut short")
            return false
        end
        return true
    end
    if bit(0x01) then
        if not need(4 + off_size + 2, "ACK block") then return info end
        local ack = pt:add(buf(p, 4 + off_size + 2), "ACK")
        ack:add_le(f.ack_stream_id, buf(p, 4))
        ack:add(f.ack_offset, buf(p + 4, off_size), offset_of(p + 4))
        ack:add_le(f.ack_length, buf(p + 4 + off_size, 2))
        info = info .. string.format(" ack=%d@%s+%d", buf(p, 4):le_uint(), tostring(offset_of(p + 4)),
            buf(p + 4 + off_size, 2):le_uint())
        p = p + 4 + off_size + 2
    end
    if bit(0x10) then
        if not need(32, "KU key") then return info end
        pt:add(f.ku, buf(p, 32))
        info = info .. " KU"
        p = p + 32
    end
    if bit(0x20) then
        if not need(32, "KUA key") then return info end
        pt:add(f.kua, buf(p, 32))
        info = info .. " KUA"
        p = p + 32
    end
    if bit(0x02) then
        if not need(4 + off_size, "stream header") then return info end
        local sh = pt:add(buf(p, len - p), "Stream")
        sh:add_le(f.stream_id, buf(p, 4))
        sh:add_le(f.best_effort, buf(p, 4))
        sh:add(f.offset, buf(p + 4, off_size), offset_of(p + 4))
        local sid = buf(p, 4):le_uint() % 0x80000000
        local off = offset_of(p + 4)
        p = p + 4 + off_size
        local n = len - p
        sh:add(f.data_length, buf(p, 0), n)
        if n > 0 then
            sh:add(f.data, buf(p, n))
            local s = buf(p, n):raw()
            if s:match("^[\32-\126]*$") then sh:add(f.data_text, buf(p, n), s) end
        end
        info = info .. string.format(" stream=%d off=%s len=%d", sid, tostring(off), n)
        if bit(0x08) then info = info .. " FIN" end
    elseif p < len then  -- §9.5: without a stream header nothing may follow
        pt:add_proto_expert_info(e_malformed, (len - p) .. " bytes after the last block")
    end
    return info
end

function qotp.dissector(buf, pinfo, root)
    local len = buf:len()
    if len < 1 then return 0 end
    local b0 = buf(0, 1):uint()
    local t = math.floor(b0 / 32)
    if b0 % 32 ~= 0 or type_names[t] == nil then return 0 end
    local name = type_names[t]
    pinfo.cols.protocol = "QOTP"
    local tree = root:add(qotp, buf(), "QOTP, " .. name)
    local hdr = tree:add(buf(0, math.min(len, header_size[t] or 67)), "Clear header")
    hdr:add(f.type, buf(0, 1))
    hdr:add(f.type_name, buf(0, 1), name)
    hdr:add(f.version, buf(0, 1))
    if len < 9 then
        tree:add_proto_expert_info(e_malformed, "shorter than a type byte and a connection id")
        pinfo.cols.info = name
        return len
    end
    hdr:add_le(f.connection_id, buf(1, 8))
    local info = name .. " conn=" .. buf(1, 8):le_uint64():tohex()
    local is_marked = marked(buf, t)
    if not is_marked and len < min_size[t] then
        tree:add_proto_expert_info(e_malformed, name .. " is at least " .. min_size[t] .. " bytes (§4.6)")
        pinfo.cols.info = info
        return len
    end
    if t == INIT_SND or t == INIT_CRYPTO_SND then  -- §4.1, §4.2: epI (holds the id), idI
        hdr:add(f.ephemeral, buf(1, 32))
        hdr:add(f.identity, buf(33, 32))
    elseif t == INIT_RCV then  -- §4.3
        hdr:add(f.ephemeral, buf(9, 32))
        hdr:add(f.identity, buf(41, 32))
    elseif t == INIT_CRYPTO_RCV then  -- §4.4
        hdr:add(f.ephemeral, buf(9, 32))
    end
    if t == INIT_SND then
        hdr:add_le(f.init_max_payload, buf(65, 2))
        local pad = tree:add(f.padding, buf(67, len - 67))
        if not all_zero(buf, 67, len - 67) then pad:add_proto_expert_info(e_violation, "padding is zero in W2") end
        pinfo.cols.info = info .. " maxPayload=" .. buf(65, 2):le_uint()
        return len
    end
    local h = header_size[t]
    if is_marked then
        tree:add(f.decrypted, buf(h, #MARKER), true)
        if len < h + #MARKER + SN then
            tree:add_proto_expert_info(e_malformed, "decrypted datagram without a sequence number")
        else
            local sn = UInt64.new(buf(h + #MARKER, 4):le_uint(), buf(h + #MARKER + 4, 2):le_uint())
            tree:add(f.sn, buf(h + #MARKER, SN), sn)
            info = info .. " sn=" .. tostring(sn) .. dissect_payload(buf, tree, h + #MARKER + SN) .. " (decrypted)"
        end
    else
        if t == INIT_CRYPTO_SND and len ~= INIT_SIZE then
            tree:add_proto_expert_info(e_violation, "InitCryptoSnd is exactly 1232 bytes")
        end
        tree:add(f.encrypted_sn, buf(h, SN))
        tree:add(f.ciphertext, buf(h + SN, len - h - SN - TAG))
        tree:add(f.tag, buf(len - TAG, TAG))
        info = info .. " (encrypted)"
    end
    pinfo.cols.info = info
    return len
end

local function heuristic(buf, pinfo, root)
    if not looks_like_qotp(buf) then return false end
    qotp.dissector(buf, pinfo, root)
    return true
end

local udp_port = DissectorTable.get("udp.port")
local registered_port = qotp.prefs.port
if registered_port ~= 0 then udp_port:add(registered_port, qotp) end
qotp:register_heuristic("udp", heuristic)

function qotp.prefs_changed()
    if registered_port ~= qotp.prefs.port then
        if registered_port ~= 0 then udp_port:remove(registered_port, qotp) end
        registered_port = qotp.prefs.port
        if registered_port ~= 0 then udp_port:add(registered_port, qotp) end
    end
end
