#!/usr/bin/env python3
#
# Generate the seed corpus of the fuzz targets in selftest/fuzz/:
# cifs.ko-like SMB2 READ/WRITE requests with RDMA channels and smbd-like
# READ responses (fuzz_smb2_rdma), SMB Direct negotiate and data
# transfer message sequences (fuzz_smbdirect_recv).
#
#   python3 gen_corpus.py <corpus dir>
#
# Copyright (C) The vfs_smbdirect authors 2026
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 3 of the License, or
# (at your option) any later version.

import os
import struct
import sys

SMB2_OP_CREATE = 0x05
SMB2_OP_CLOSE = 0x06
SMB2_OP_READ = 0x08
SMB2_OP_WRITE = 0x09

FLAG_REDIRECT = 0x01
FLAG_ASYNC = 0x02
FLAG_SIGNED = 0x08

RDMA_V1 = 1
RDMA_V1_INVALIDATE = 2

STATUS_PENDING = 0x00000103
STATUS_END_OF_FILE = 0xC0000011


def hdr(command, mid, status=0, flags=0, credit_charge=1):
    """64-byte SMB2 sync header; NextCommand is set by chain()."""
    return struct.pack('<4sHHIHHIIQIIQ16s', b'\xfeSMB', 64, credit_charge,
                       status, command, 64, flags, 0, mid, 0xFEFF,
                       0x11223344, 0x0000400000000001, b'\0' * 16)


def desc(offset, token, length):
    return struct.pack('<QII', offset, token, length)


def read_req(channel, mid, length, descs=None):
    """smb2_new_read_req() with RDMA: channel info at 0x70."""
    if descs is None:
        descs = [desc(0xFFFF888812340000, 0xABCD0001, length)]
    ci = b''.join(descs)
    body = struct.pack('<HBBIQQQIIIHH', 49, 0, 0, length, 0x1000,
                       0x1111111111111111, 0x2222222222222222, 0,
                       channel, 0, 0x70 if ci else 0, len(ci))
    return hdr(SMB2_OP_READ, mid) + body + (ci if ci else b'\0')


def write_req(channel, mid, remaining):
    """smb2_async_writev() with RDMA: Length/DataOffset 0."""
    ci = desc(0xFFFF888856780000, 0xABCD0002, remaining)
    body = struct.pack('<HHIQQQIIHHI', 49, 0, 0, 0x10000,
                       0x3333333333333333, 0x4444444444444444, channel,
                       remaining, 0x70, len(ci), 0)
    return hdr(SMB2_OP_WRITE, mid) + body + ci


def inline_write_req(mid, data):
    body = struct.pack('<HHIQQQIIHHI', 49, 0x70, len(data), 0,
                       0x3333333333333333, 0x4444444444444444, 0, 0, 0,
                       0, 0)
    return hdr(SMB2_OP_WRITE, mid) + body + data


def other(command, mid, body_len, flags=0, status=0):
    return hdr(command, mid, status, flags) + \
        bytes((i * 7 + command) & 0xff for i in range(body_len))


def read_rsp(mid, data, status=0, flags=FLAG_REDIRECT):
    body = struct.pack('<HBBIII', 17, 0x50, 0, len(data), 0, 0)
    return hdr(SMB2_OP_READ, mid, status, flags) + body + data


def error_rsp(command, mid, status, flags=FLAG_REDIRECT):
    return hdr(command, mid, status, flags) + struct.pack('<HBBI', 9, 0, 0,
                                                          0) + b'\0'


def chain(elems):
    out = b''
    for i, e in enumerate(elems):
        last = i + 1 == len(elems)
        if not last:
            e = e + b'\0' * ((8 - len(e) % 8) % 8)
        e = e[:0x14] + struct.pack('<I', 0 if last else len(e)) + e[0x18:]
        out += e
    return out


def rdma_params(max_rw=1024 * 1024, max_descs=16, rdma_len=0):
    # max_read_write_size = 1 + (LE32 % 1 MiB)
    return struct.pack('<IB', (max_rw - 1) % (1024 * 1024), max_descs) + \
        struct.pack('<I', rdma_len)[:3]


def smb2_rdma_seeds():
    p = rdma_params()
    s = {}
    s['read_rdma_v1'] = p + read_req(RDMA_V1, 1, 65536)
    s['read_rdma_v1_invalidate'] = p + read_req(RDMA_V1_INVALIDATE, 2,
                                                1048576)
    s['write_rdma_v1'] = p + write_req(RDMA_V1, 3, 4096)
    s['write_rdma_v1_invalidate'] = p + write_req(RDMA_V1_INVALIDATE, 4,
                                                  65536 + 13)
    s['read_two_descs'] = p + read_req(
        RDMA_V1, 5, 8192, [desc(0x1000, 7, 4096), desc(0x9000, 8, 4096)])
    s['compound_read_middle'] = p + chain([
        other(SMB2_OP_CREATE, 10, 57 + 60),
        read_req(RDMA_V1_INVALIDATE, 11, 4096),
        other(SMB2_OP_CLOSE, 12, 24)])
    s['compound_write_middle'] = p + chain([
        other(SMB2_OP_CREATE, 20, 57 + 60),
        write_req(RDMA_V1, 21, 13),
        other(SMB2_OP_CLOSE, 22, 24)])
    s['compound_many'] = p + chain([
        write_req(RDMA_V1_INVALIDATE, 30, 100),
        other(0x07, 31, 24),
        write_req(RDMA_V1_INVALIDATE, 32, 7),
        read_req(RDMA_V1_INVALIDATE, 33, 4096)])
    s['inline_write'] = p + inline_write_req(40, b'hello, smbd')
    s['read_rsp'] = p + read_rsp(50, bytes(range(256)) * 2)
    s['read_rsp_empty'] = p + read_rsp(51, b'')
    s['read_rsp_compound'] = p + chain([
        other(SMB2_OP_CREATE, 60, 88, FLAG_REDIRECT),
        read_rsp(61, b'x' * 333),
        other(SMB2_OP_CLOSE, 62, 60, FLAG_REDIRECT)])
    s['read_rsp_interim'] = p + error_rsp(SMB2_OP_READ, 70, STATUS_PENDING,
                                          FLAG_REDIRECT | FLAG_ASYNC)
    s['read_rsp_eof'] = p + error_rsp(SMB2_OP_READ, 71, STATUS_END_OF_FILE)
    s['read_rsp_signed'] = p + read_rsp(72, b'abc',
                                        flags=FLAG_REDIRECT | FLAG_SIGNED)
    return s


# ---------------------------------------------------------------------
# SMB Direct: records [op:1][len:2][bytes] for fuzz_smbdirect_recv

def rec(op, payload):
    return struct.pack('<BH', op, len(payload)) + payload


def negotiate_req(credits=255, pref_send=1364, max_recv=1364,
                  max_frag=1024 * 1024):
    """cifs.ko's negotiate request ([MS-SMBD] 2.2.1)."""
    return struct.pack('<HHHHIII', 0x0100, 0x0100, 0, credits, pref_send,
                       max_recv, max_frag)


def data_msg(payload, remaining=0, credits_requested=255,
             credits_granted=0, flags=0):
    """[MS-SMBD] 2.2.3; 20 bytes without payload, else offset 24."""
    if not payload:
        return struct.pack('<HHHHIII', credits_requested, credits_granted,
                           flags, 0, 0, 0, 0)
    return struct.pack('<HHHHIIII', credits_requested, credits_granted,
                       flags, 0, remaining, 24, len(payload), 0) + payload


def smbdirect_seeds():
    neg = rec(0, negotiate_req())
    smb2_negprot = other(0x00, 0, 36 + 8)
    big = read_req(RDMA_V1_INVALIDATE, 9, 65536) * 30  # 3840 bytes
    s = {}
    s['negotiate_only'] = neg
    s['single_pdu'] = neg + rec(0, data_msg(smb2_negprot,
                                            credits_granted=255))
    # a PDU in three fragments, as cifs.ko splits by 1364 - 24 bytes
    frags = []
    left = len(big)
    pos = 0
    first = True
    while left > 0:
        n = min(1340, left)
        left -= n
        frags.append(rec(0, data_msg(big[pos:pos + n], remaining=left,
                                     credits_granted=255 if first else 0)))
        pos += n
        first = False
    s['fragmented_pdu'] = neg + b''.join(frags)
    s['grant_then_send'] = neg + rec(0, data_msg(
        smb2_negprot, credits_granted=10)) + \
        rec(1, struct.pack('<I', 5000)) + rec(2, b'')
    s['keepalive'] = neg + rec(0, data_msg(b'', credits_granted=5,
                                           flags=1)) + \
        rec(0x82, b'') + rec(3, b'') + rec(0x82, b'') + \
        rec(0, data_msg(b'', credits_granted=1))
    s['send_waits_for_credits'] = neg + rec(1, struct.pack('<I', 3000)) + \
        rec(0, data_msg(b'', credits_granted=1)) + rec(1, b'') + \
        rec(0, data_msg(b'', credits_granted=3)) + rec(1, b'')
    s['empty_send'] = neg + rec(0, data_msg(b'', credits_granted=2)) + \
        rec(1, struct.pack('<I', 0))
    s['negotiate_small'] = rec(0, negotiate_req(1, 128, 128, 131072)) + \
        rec(0, data_msg(b'\xfeSMB' + b'\0' * 60, credits_requested=1,
                        credits_granted=1))
    s['negotiate_bad_version'] = rec(0, struct.pack(
        '<HHHHIII', 0x0200, 0x0300, 0, 255, 1364, 1364, 1 << 20))
    return s


def write_dir(d, seeds):
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: gen_corpus.py <corpus dir>\n')
        return 2
    top = sys.argv[1]
    write_dir(os.path.join(top, 'fuzz_smb2_rdma'), smb2_rdma_seeds())
    write_dir(os.path.join(top, 'fuzz_smbdirect_recv'), smbdirect_seeds())
    return 0


if __name__ == '__main__':
    sys.exit(main())
