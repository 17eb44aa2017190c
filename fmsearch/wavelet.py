"""Blocked Huffman-shaped wavelet tree over a byte sequence (the BWT), with compressed node bitvectors.

This is "fixed block compression boosting" (Karkkainen & Puglisi, SPIRE 2011): the sequence is cut into blocks of
2^16 or 2^17 symbols (`BLOCK_BITS`) and each block gets its own Huffman-shaped wavelet tree, so each block pays
about its own zero-order entropy, which over a BWT approaches the text's higher-order entropy. The node bitvectors
remove most of what is left, runs of equal bits: the `compact` preset codes them with RRR (`rrrlines.py`), the
`small` preset as hybrid bitvectors (`hybrid.py`: run lengths, minority positions or plain, per 1024 bits), and the
`fast` preset keeps them plain (`plainbits.py`). Per block we keep the occurrences of every symbol before the block,
so rank(c, i) = before[block, c] + a walk down c's code path inside the block.

Symbols are dense ids 0..sigma-1 (the bytes that occur, in byte order). Codes are canonical: at depth d the leaves
take the prefixes [first_code[d], first_internal[d]) and the internal nodes [first_internal[d], 2^d), so a node is
found from (depth, prefix) with one subtraction, without pointers.

Arrays (one tuple, `kernel_arrays`, passed whole to the kernels), as format 5 writes them:
    before       uint32 (superblocks, sigma) occurrences of each symbol before each superblock of 2^SUPER_BITS
                                             symbols (formats 1-3: (blocks + 1, sigma), before each block)
    symbol_records uint32 (blocks, sigma)    per symbol and block: its occurrences before the block counted from
                                             the superblock (SUPER_BITS bits), its code length (5 bits, 31 when
                                             the symbol does not occur in the block), and its leaf index (8 bits):
                                             where it stands in leaf_symbols; its code is first_code[len] + leaf
                                             index - symbol_base[len]. One read finds all three.
    leaf_index, code_len  uint8 (blocks, sigma)  formats 1-3 only: the leaf index and code length (ABSENT)
    levels       uint32 (blocks, depths, 4)  per depth: first_code, first_internal, node_base, symbol_base; up to
                                             the longest code of the shard (formats 1-3: MAX_DEPTH + 1 depths)
    leaf_symbols uint8  (blocks, sigma)      symbols sorted by (code length, symbol): leaf -> symbol
    block_base   int64  (blocks, 4)          the block's first node, first line (RRR, plain) or chunk (formats
                                             1-2), first directory entry, first offset bit
    node_records uint8  (64 lines)           RRR and hybrid: per node bitvector, relative to its block, 5 bytes,
                                             12 to a 64-byte line: RRR: first chunk (18 bits) and ones before it
                                             in the block's stream (22 bits); hybrid: first directory entry and
                                             offset bit
    nodes        uint32 (nodes, 1)           plain: per node its first line; formats 1-3 keep every kind's node
                                             rows here (RRR, hybrid: 2 columns; formats 1-2: 3 columns, first
                                             chunk, directory entry, offset bit)
    lines, offsets, directory                RRR: lines of counts and classes, the offsets, and each line's offset
                                             position (rrrlines.py; formats 3-4: no directory)
    offsets, directory                       hybrid: the payload and the directory (hybrid.py)
    lines                                    plain: bitvectors with in-line counts (plainbits.py)
    classes                                  formats 1 and 2 only: their RRR layout with `offsets` and `directory`
                                             (rrr.py), read but no longer written
The arrays a kind or format does not use are empty: that is how the kernels tell the kinds (`bitvector_kind`) and
the layouts apart, with the same compiled code for all. After the arrays, in ARRAY_NAMES order, the kernels' tuple
holds the block size in bits.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from fmsearch import hybrid, plainbits, rrr, rrrlines
from fmsearch.jit import udivmod, walker
from fmsearch.prefetch import load_u64, prefetch

# Block size in bits per bitvector kind, the largest each layout's fields hold. Larger blocks mean smaller per-block
# tables (records, levels, node rows: 0.20 bits per corpus byte at 2^16, 0.11 at 2^17) against codes fitted to less
# local statistics, so deeper trees: on 200 MB of mixed text `compact` takes 0.398x at 2^17 against 0.403x at 2^16
# (2^18 saves 0.3% more), which its 0.40x target needs, for counts and extracts about 4% slower (paired).
# rrrlines' 21-bit fields hold a 2^17-symbol block (its Huffman codes average at most 8 bits, so its stream has at
# most 2^20 bits); hybrid's 16-bit directory positions and plain lines' 16-bit counts hold 2^16. Formats 1-3 used
# 2^16 throughout.
BLOCK_BITS = {"hybrid": 16, "rrr15": 17, "plain": 16}
LEGACY_BLOCK_BITS = 16
MAX_DEPTH = 24  # a Huffman code over <= 2^16 symbols is at most 23 bits deep (Fibonacci bound)
ABSENT = 255
HYBRID, RRR, PLAIN = 0, 1, 2  # index in BITVECTORS; a shard does not record it: see `bitvector_kind`
RRR_SPLIT = 3  # formats 1 and 2: RRR with directory, classes and offsets in three arrays (rrr.py); read only

# Format 4's superblocks: their counts and the in-superblock counts of symbol_records (a block of at most 2^17
# symbols starts less than 2^19 symbols into its superblock) replace formats 1-3's 32-bit counts per block and
# 8-bit code lengths: 0.066 -> 0.055 bits per corpus byte at 2^17 blocks, and one read instead of three.
SUPER_BITS = 19
_LENGTH_SHIFT, _LEAF_SHIFT, _NO_CODE = SUPER_BITS, SUPER_BITS + 5, 31
# node_records: the first field's bits (the second has 22), and records per 64-byte line. A record never straddles
# two lines: packed end to end, the 11% that did made counts 5% slower.
_NODE_FIELD, _LINE_RECORDS = 18, 12
ARRAY_NAMES = (
    "before",
    "leaf_index",
    "code_len",
    "levels",
    "leaf_symbols",
    "block_base",
    "nodes",
    "classes",
    "offsets",
    "directory",
    "lines",
    "symbol_records",
    "node_records",
)
ARRAY_NAMES_V3 = ARRAY_NAMES[:11]  # formats 1-3
BITVECTORS = ("hybrid", "rrr15", "plain")


@njit(nogil=True, cache=True)
def huffman_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code length per symbol (int64, -1 where the count is 0; 0 when only one symbol occurs)."""
    sigma = counts.shape[0]
    lengths = np.full(sigma, -1, dtype=np.int64)
    present = np.nonzero(counts)[0]
    m = present.shape[0]
    if m == 0:
        return lengths
    if m == 1:
        lengths[present[0]] = 0
        return lengths
    order = present[np.argsort(counts[present], kind="mergesort")]
    weight = np.zeros(2 * m - 1, dtype=np.int64)
    parent = np.zeros(2 * m - 1, dtype=np.int64)
    for i in range(m):
        weight[i] = counts[order[i]]
    leaf = 0
    inner = m
    for new in range(m, 2 * m - 1):
        # Two queues: sorted leaves, and internal nodes, which are created in increasing weight order.
        picked = np.empty(2, dtype=np.int64)
        for t in range(2):
            if leaf < m and (inner >= new or weight[leaf] <= weight[inner]):
                picked[t] = leaf
                leaf += 1
            else:
                picked[t] = inner
                inner += 1
        weight[new] = weight[picked[0]] + weight[picked[1]]
        parent[picked[0]] = new
        parent[picked[1]] = new
    depth = np.zeros(2 * m - 1, dtype=np.int64)
    for x in range(2 * m - 3, -1, -1):
        depth[x] = depth[parent[x]] + 1
    for i in range(m):
        lengths[order[i]] = depth[i]
    return lengths


@njit(nogil=True, cache=True)
def _block_layout(block: np.ndarray, sigma: int, code, code_len, levels, leaf_symbols, node_bits):
    """Codes, level table and bits per internal node of one block. Returns the number of internal nodes."""
    counts = np.zeros(sigma, dtype=np.int64)
    for s in block:
        counts[s] += 1
    lengths = huffman_lengths(counts)
    per_depth = np.zeros(MAX_DEPTH + 1, dtype=np.int64)
    for s in range(sigma):
        if lengths[s] >= 0:
            per_depth[lengths[s]] += 1
    # Canonical codes in (length, symbol) order.
    value = 0
    node_base = 0
    symbol_base = 0
    for d in range(MAX_DEPTH + 1):
        levels[d, 0] = value
        levels[d, 1] = value + per_depth[d]
        levels[d, 2] = node_base
        levels[d, 3] = symbol_base
        node_base += (1 << d) - (value + per_depth[d]) if lengths.max() > d else 0
        symbol_base += per_depth[d]
        value = (value + per_depth[d]) << 1
    filled = np.zeros(MAX_DEPTH + 1, dtype=np.int64)
    for s in range(sigma):
        d = lengths[s]
        if d < 0:
            code_len[s] = ABSENT
            code[s] = 0
            continue
        code_len[s] = d
        code[s] = levels[d, 0] + filled[d]
        leaf_symbols[levels[d, 3] + filled[d]] = s
        filled[d] += 1
    for s in range(sigma):
        d = lengths[s]
        for depth in range(max(d, 0)):
            prefix = code[s] >> (d - depth)
            node_bits[levels[depth, 2] + prefix - levels[depth, 1]] += counts[s]
    return node_base


@njit(nogil=True, cache=True, inline="always")
def bitvector_kind(classes: np.ndarray, offsets: np.ndarray, lines: np.ndarray) -> int:
    """HYBRID, RRR, PLAIN or RRR_SPLIT, from the arrays a shard fills: RRR fills `lines` and `offsets`, plain only
    `lines`, hybrid neither (its payload and directory are `offsets` and `directory`), and formats 1-2's RRR
    `classes`."""
    if classes.shape[0] > 0:
        return RRR_SPLIT
    if lines.shape[0] == 0:
        return HYBRID
    return RRR if offsets.shape[0] > 0 else PLAIN


@njit(nogil=True, cache=True)
def _layout_all(seq, sigma, code, code_len, levels, leaf_symbols, before, node_bits_all, sizes, kind, block_size):
    """Pass 1 over all blocks: codes, level tables, per-node bits; sizes[b] = (nodes, lines, directory entries or
    RRR chunks)."""
    blocks = code.shape[0]
    node_bits = np.zeros(1 << 17, dtype=np.int64)
    total_nodes = 0
    for b in range(blocks):
        block = seq[b * block_size : min((b + 1) * block_size, seq.shape[0])]
        for s in range(sigma):
            before[b + 1, s] = before[b, s]
        for s in block:
            before[b + 1, s] += 1
        node_bits[:] = 0
        nodes = _block_layout(block, sigma, code[b], code_len[b], levels[b], leaf_symbols[b], node_bits)
        chunks = 0
        samples = 0
        for k in range(nodes):
            if kind == PLAIN:
                chunks += plainbits.lines_for(node_bits[k])
            elif kind == HYBRID:
                samples += (node_bits[k] + hybrid.BLOCK - 1) // hybrid.BLOCK + 1
            else:
                samples += (node_bits[k] + rrr.CHUNK_BITS - 1) // rrr.CHUNK_BITS
            node_bits_all[total_nodes + k] = node_bits[k]
        total_nodes += nodes
        sizes[b, 0] = nodes
        sizes[b, 1] = rrrlines.lines_for(samples) if kind == RRR else chunks
        sizes[b, 2] = samples
    return total_nodes


@njit(nogil=True, cache=True)
def _encode_all(
    seq, code, code_len, levels, block_base, node_bits_all, nodes, offsets, directory, lines, kind, block_size
):
    """Pass 2: write every node bitvector, level by level, in (depth, prefix) order. Returns the offset bits
    written and (RRR) each line's offset position."""
    blocks = code.shape[0]
    line_starts = np.zeros(lines.shape[0] // rrrlines.LINE_WORDS if kind == RRR else 0, dtype=np.int64)
    cur = np.empty(block_size, dtype=np.uint8)
    nxt = np.empty(block_size, dtype=np.uint8)
    bits = np.empty(block_size, dtype=np.uint8)
    ptr = 0
    for b in range(blocks):
        start = b * block_size
        size = min(block_size, seq.shape[0] - start)
        cur[:size] = seq[start : start + size]
        node0, chunk0, sample0 = block_base[b, 0], block_base[b, 1], block_base[b, 2]
        block_base[b, 3] = ptr
        chunk = chunk0
        sample = sample0
        stream_chunk = 0  # RRR: the block's stream
        ones = 0
        lens = code_len[b]
        codes = code[b]
        depth = 0
        while depth < MAX_DEPTH and levels[b, depth + 1, 2] > levels[b, depth, 2]:
            pos = 0
            fill = 0
            for node in range(levels[b, depth, 2], levels[b, depth + 1, 2]):
                width = node_bits_all[node0 + node]
                for i in range(width):
                    s = cur[pos + i]
                    bits[i] = (codes[s] >> (lens[s] - 1 - depth)) & 1
                if kind == PLAIN:
                    nodes[node0 + node, 0] = chunk - chunk0
                    chunk = plainbits.encode_bits(bits, 0, width, lines, chunk)
                elif kind == HYBRID:
                    nodes[node0 + node, 0] = sample - sample0
                    nodes[node0 + node, 1] = ptr - block_base[b, 3]
                    sample, ptr = hybrid.encode_bits(bits, 0, width, directory, offsets, sample, ptr)
                else:
                    nodes[node0 + node, 0] = stream_chunk
                    nodes[node0 + node, 1] = ones
                    stream_chunk, ptr, ones = rrrlines.encode_bits(
                        bits, width, lines, line_starts, offsets, chunk0, block_base[b, 3], stream_chunk, ptr, ones
                    )
                # Children in prefix order: the 0-child's symbols, then the 1-child's, leaves dropped.
                for want in range(2):
                    for i in range(width):
                        s = cur[pos + i]
                        if bits[i] == want and lens[s] > depth + 1:
                            nxt[fill] = s
                            fill += 1
                pos += width
            cur, nxt = nxt, cur
            depth += 1
        if kind == RRR:
            rrrlines.close(lines, line_starts, chunk0, block_base[b, 3], stream_chunk, ptr, ones)
    return ptr, line_starts


def build_wavelet(seq: np.ndarray, sigma: int, bitvectors: str = "rrr15") -> dict[str, np.ndarray]:
    """Build the arrays for the dense-symbol sequence `seq` (uint8, values < sigma) with node bitvectors of the
    given kind: "hybrid" (smallest, `hybrid.py`), "rrr15" (`rrrlines.py`) or "plain" (one cache line per rank,
    `plainbits.py`), in blocks of 2^BLOCK_BITS[kind] symbols."""
    if bitvectors not in BITVECTORS:
        raise ValueError(f"unknown bitvector kind {bitvectors!r}; known: {', '.join(BITVECTORS)}")
    kind = BITVECTORS.index(bitvectors)
    block_size = 1 << BLOCK_BITS[bitvectors]
    blocks = max(1, -(-seq.shape[0] // block_size))
    code = np.zeros((blocks, sigma), dtype=np.uint32)
    code_len = np.full((blocks, sigma), ABSENT, dtype=np.uint8)
    levels = np.zeros((blocks, MAX_DEPTH + 1, 4), dtype=np.uint32)
    leaf_symbols = np.zeros((blocks, sigma), dtype=np.uint8)
    before = np.zeros((blocks + 1, sigma), dtype=np.uint32)
    node_bits_all = np.zeros(blocks * max(sigma, 1), dtype=np.int64)
    sizes = np.zeros((blocks, 3), dtype=np.int64)
    total_nodes = _layout_all(
        seq, sigma, code, code_len, levels, leaf_symbols, before, node_bits_all, sizes, kind, block_size
    )
    block_base = np.zeros((blocks, 4), dtype=np.int64)
    block_base[1:, :3] = np.cumsum(sizes, axis=0)[:-1]
    line_count = int(sizes[:, 1].sum())
    nodes = np.zeros((total_nodes, 1 if kind == PLAIN else 2), dtype=np.uint32)
    # The arrays the kind does not use stay empty: that is how the kernels tell the kinds apart (bitvector_kind).
    entries = int(sizes[:, 2].sum())  # hybrid: directory entries; RRR: chunks
    if kind == HYBRID:  # a block's code takes at most its bits and the header
        offsets = np.zeros((int(node_bits_all.sum()) + hybrid.HEADER * entries) // 64 + 2, dtype=np.uint64)
    else:
        offsets = np.zeros(entries * 13 // 64 + 2 if kind == RRR else 0, dtype=np.uint64)
    directory = np.zeros(entries if kind == HYBRID else 0, dtype=np.uint32)  # RRR: filled in after encoding
    lines = np.zeros(line_count * (rrrlines.LINE_WORDS if kind == RRR else plainbits.LINE_WORDS), dtype=np.uint64)
    ptr, line_starts = _encode_all(
        seq, code, code_len, levels, block_base, node_bits_all, nodes, offsets, directory, lines, kind, block_size
    )
    if kind != PLAIN:
        offsets = offsets[: ptr // 64 + 2].copy()  # one spare word: a read may look one word ahead
    if kind == RRR:
        directory = rrrlines.pack_line_ptrs(line_starts)
    # Only the leaf index is stored; the code follows from it and the level table.
    rows = np.arange(blocks)[:, None]
    depth = np.minimum(code_len, MAX_DEPTH).astype(np.int64)
    leaf_index = (levels[rows, depth, 3].astype(np.int64) + code - levels[rows, depth, 0]).astype(np.int64)
    leaf_index = np.where(code_len == ABSENT, 0, leaf_index).astype(np.uint32)
    per_super = 1 << (SUPER_BITS - BLOCK_BITS[bitvectors])
    super_before = before[:-1:per_super]
    within = before[:-1] - super_before[np.arange(blocks) // per_super]
    lengths = np.where(code_len == ABSENT, _NO_CODE, code_len).astype(np.uint32)
    empty_rows = np.zeros((0, sigma), dtype=np.uint8)
    return {
        "before": np.ascontiguousarray(super_before),
        "leaf_index": empty_rows,
        "code_len": empty_rows,
        "levels": levels[:, : int(np.max(depth, initial=0, where=code_len != ABSENT)) + 1].copy(),
        "leaf_symbols": leaf_symbols,
        "block_base": block_base,
        "nodes": nodes if kind == PLAIN else np.zeros((0, 1), dtype=np.uint32),
        "classes": np.zeros(0, dtype=np.uint8),
        "offsets": offsets,
        "directory": directory,
        "lines": lines,
        "symbol_records": within | (lengths << _LENGTH_SHIFT) | (leaf_index << _LEAF_SHIFT),
        "node_records": _node_records(nodes if kind != PLAIN else np.zeros((0, 2), dtype=np.uint32)),
    }


def _node_records(nodes: np.ndarray) -> np.ndarray:
    """Node rows (first field, second field) packed into 5-byte records, 12 to a 64-byte line."""
    first, second = nodes[:, 0].astype(np.uint64), nodes[:, 1].astype(np.uint64)
    if nodes.shape[0] and (first.max() >> _NODE_FIELD or second.max() >> (40 - _NODE_FIELD)):
        raise ValueError("a node row does not fit its 5-byte record; blocks are larger than their layout holds")
    packed = first | (second << np.uint64(_NODE_FIELD))
    n = nodes.shape[0]
    lines = np.zeros((-(-n // _LINE_RECORDS), 64), dtype=np.uint8)
    for slot in range(_LINE_RECORDS):
        mine = packed[slot::_LINE_RECORDS]
        for i in range(5):
            lines[: mine.shape[0], 5 * slot + i] = (mine >> np.uint64(8 * i)) & np.uint64(0xFF)
    return lines.reshape(-1)


@njit(nogil=True, cache=True, inline="always")
def _record_at(k: int) -> int:
    """Byte offset of node k's record in node_records."""
    line, slot = udivmod(k, _LINE_RECORDS)
    return line * 64 + slot * 5


# What formats 1-3 lack, as the kernels take it in their stead: empty arrays of these shapes and types.
EMPTY_BEFORE_V4 = {"symbol_records": ((0, 0), np.uint32), "node_records": ((0,), np.uint8)}


def kernel_arrays(arrays: Mapping[str, np.ndarray], block_bits: int) -> tuple:
    """The tuple the kernels take: the arrays in ARRAY_NAMES order (those a format lacks as empty ones, see
    EMPTY_BEFORE_V4), then the block size in bits."""
    return (*(arrays[name] for name in ARRAY_NAMES), block_bits)


@njit(nogil=True, cache=True, inline="always")
def _symbol(wt, b: int, c: int) -> tuple[int, int, int]:
    """(occurrences of c before block b, c's code length there or ABSENT, its leaf index)."""
    before, leaf_index, code_len, records = wt[0], wt[1], wt[2], wt[11]
    if records.shape[0] == 0:  # formats 1-3
        return np.int64(before[b, c]), np.int64(code_len[b, c]), np.int64(leaf_index[b, c])
    r = np.int64(records[b, c])
    length = (r >> _LENGTH_SHIFT) & 31
    base = np.int64(before[b >> (SUPER_BITS - wt[-1]), c]) + (r & ((1 << SUPER_BITS) - 1))
    return base, ABSENT if length == _NO_CODE else length, r >> _LEAF_SHIFT


@njit(nogil=True, cache=True, inline="always")
def _prefetch_symbol(wt, b: int, c: int) -> None:
    records = wt[11]
    if records.shape[0] == 0:
        prefetch(wt[0], b * wt[0].shape[1] + c)
        prefetch(wt[2], b * wt[2].shape[1] + c)
    else:
        prefetch(records, b * records.shape[1] + c)


@njit(nogil=True, cache=True, inline="always")
def _node_fields(nodes, records, k: int) -> tuple[int, int]:
    """The two fields of node k that RRR and hybrid bitvectors keep: from its 5-byte record, or (formats 1-3) the
    last two columns of its row."""
    if records.shape[0] > 0:  # the record's 8-byte load stays inside its line: at most 11 * 5 + 8 bytes in
        v = np.int64(load_u64(records, _record_at(k)) & np.uint64((1 << 40) - 1))
        return v & ((1 << _NODE_FIELD) - 1), v >> _NODE_FIELD
    c = nodes.shape[1] - 2
    return np.int64(nodes[k, c]), np.int64(nodes[k, c + 1])


@njit(nogil=True, cache=True, inline="always")
def _node_at(wt, b: int, depth: int, prefix: int) -> int:
    """The internal node (numbered over all blocks) of block b whose code starts with `prefix` (`depth` bits)."""
    levels = wt[3]
    return wt[5][b, 0] + levels[b, depth, 2] + prefix - levels[b, depth, 1]


@njit(nogil=True, cache=True, inline="always")
def _node_row(wt, b: int, k: int) -> tuple[int, int, int]:
    """Where the bitvector of internal node k (of all blocks; it is in block b) starts, as `_row_rank` takes it:
    plain: (first line, 0, 0); RRR: (0, first chunk, ones before it) in the block's stream; hybrid: (0, directory
    entry, offset bit); formats 1-2's RRR: (first chunk, directory entry, offset bit)."""
    block_base, nodes, classes, offsets, lines = wt[5], wt[6], wt[7], wt[8], wt[10]
    kind = bitvector_kind(classes, offsets, lines)
    if kind == PLAIN:
        return block_base[b, 1] + nodes[k, 0], 0, 0
    x, y = _node_fields(nodes, wt[12], k)
    if kind == RRR:
        return 0, x, y
    first = block_base[b, 1] + nodes[k, 0] if kind == RRR_SPLIT else 0
    return first, block_base[b, 2] + x, block_base[b, 3] + y


@njit(nogil=True, cache=True, inline="always")
def _row_rank(wt, b: int, row: tuple[int, int, int], pos: int, access: bool) -> tuple[int, int]:
    """(bit at `pos` if `access` else 0, ones before `pos`) in the bitvector of block b whose `_node_row` is
    `row`."""
    block_base, classes, offsets, directory, lines = wt[5], wt[7], wt[8], wt[9], wt[10]
    first, x, y = row
    kind = bitvector_kind(classes, offsets, lines)
    if kind == PLAIN:
        if access:
            return plainbits.access_rank1(lines, first, pos)
        return 0, plainbits.rank1(lines, first, pos)
    if kind == RRR:
        line0, ptr0, line_ptrs = block_base[b, 1], block_base[b, 3], directory
        if access:
            return rrrlines.access_rank1(lines, line_ptrs, offsets, line0, ptr0, x, y, pos)
        return 0, rrrlines.rank1(lines, line_ptrs, offsets, line0, ptr0, x, y, pos)
    if kind == HYBRID:
        if access:
            return hybrid.access_rank1(directory, offsets, x, y, pos)
        return 0, hybrid.rank1(directory, offsets, x, y, pos)
    return _split_rank(classes, offsets, directory, first, x, y, pos, access)


@njit(nogil=True, cache=True, inline="always")
def _row_rank_pair(wt, b: int, row: tuple[int, int, int], pi: int, pj: int) -> tuple[int, int]:
    """(ones before pi, ones before pj) for pi <= pj in the bitvector of block b whose `_node_row` is `row`."""
    block_base, offsets, line_ptrs, lines = wt[5], wt[8], wt[9], wt[10]
    if bitvector_kind(wt[7], offsets, lines) == RRR:
        line0, ptr0 = block_base[b, 1], block_base[b, 3]
        return rrrlines.rank1_pair(lines, line_ptrs, offsets, line0, ptr0, row[1], row[2], pi, pj)
    ones_i = ones_j = 0
    for t in range(1 if pj == pi else 2):  # one inlined node rank for both ends: a smaller kernel, as fast
        p = pj if t else pi
        ones_j = _row_rank(wt, b, row, p, False)[1] if p > 0 else 0
        if t == 0:
            ones_i = ones_j  # ones_j stays this one too when pj == pi
    return ones_i, ones_j


@walker
def _split_rank(classes, offsets, directory, first: int, sample: int, ptr: int, pos: int, access: bool):
    """_row_rank for the RRR layout of formats 1 and 2, compiled once rather than into every kernel: inlined, it
    added about 18 s to the kernels' first compile, for shards that only older fmsearch versions write."""
    if access:
        return rrr.access_rank1(classes, offsets, directory, first, sample, ptr, pos)
    return 0, rrr.rank1(classes, offsets, directory, first, sample, ptr, pos)


@njit(nogil=True, cache=True, inline="always")
def _rank_in_block(wt, b: int, c: int, pi: int, pj: int, after: int, next_c: int) -> tuple[int, int]:
    """Occurrences of c before block offsets pi <= pj of block b, walking c's code path once for both.

    Format 5 RRR: as soon as a level's line arrives, its head tells the range the walk goes on to, and the next
    level's lines are prefetched before this level's rank is worked out. At the last level, when `next_c` >= 0, the
    next step of a backward search is prefetched likewise: `next_c`'s walk from row `after` + the rank (see
    `rank_pair`). A level then waits for one miss, its line, not for the line and the work on it: counts 10-12%
    faster (paired; 7% from the levels, the rest from the steps)."""
    levels = wt[3]
    b = np.uint64(b)  # unsigned indices: see fmsearch.jit
    base, length, leaf = _symbol(wt, b, np.uint64(c))
    if length == ABSENT or pj == 0:
        return base, base
    value = levels[b, length, 0] + leaf - levels[b, length, 3]
    ahead = bitvector_kind(wt[7], wt[8], wt[10]) == RRR and wt[9].shape[0] > 0
    prefix = 0
    row = _node_row(wt, b, _node_at(wt, b, 0, 0))
    for depth in range(length):
        bit = (value >> (length - 1 - depth)) & 1
        child = row
        if depth + 1 < length:
            child = _node_row(wt, b, _node_at(wt, b, depth + 1, 2 * prefix + bit))
        if ahead:
            lo, hi = rrrlines.child_range(wt[10], wt[5][b, 1], row[1], row[2], pj, bit)
            if depth + 1 < length:
                _prefetch_lines(wt, b, child[1], lo, hi)
            elif next_c >= 0:
                _prefetch_root(wt, next_c, after + base + lo, after + base + hi)
        ones_i, ones_j = _row_rank_pair(wt, b, row, pi, pj)
        if bit:
            pi, pj = ones_i, ones_j
        else:
            pi, pj = pi - ones_i, pj - ones_j
        if pj == 0:
            break
        prefix = 2 * prefix + bit
        row = child
    return base + pi, base + pj


@njit(nogil=True, cache=True, inline="always")
def _prefetch_lines(wt, b: int, first_chunk: int, lo: int, hi: int) -> None:
    """Format 5 RRR: prefetch bits lo and hi of the node of block b starting at chunk `first_chunk`."""
    block_base = wt[5]
    rrrlines.prefetch_range(wt[10], wt[9], wt[8], block_base[b, 1], block_base[b, 3], first_chunk, lo, hi)


@njit(nogil=True, cache=True, inline="always")
def _prefetch_root(wt, c: int, lo: int, hi: int) -> None:
    """Format 5 RRR: prefetch the root lines a rank of symbol c at positions lo..hi (in lo's block) reads."""
    shift = wt[-1]
    b = lo >> shift
    if b >= wt[5].shape[0]:  # the end of the sequence
        return
    length = _symbol(wt, b, c)[1]
    if length == ABSENT or length == 0:
        return
    root = _node_row(wt, b, _node_at(wt, b, 0, 0))
    mask = (1 << shift) - 1
    _prefetch_lines(wt, b, root[1], lo & mask, min(hi - lo, mask - (lo & mask)) + (lo & mask))


@walker
def rank_pair(wt, c: int, i: int, j: int, after: int, next_c: int) -> tuple[int, int]:
    """(rank(c, i), rank(c, j)) for i <= j: occurrences of dense symbol c in seq[0:i] and seq[0:j].

    When both fall in one block they walk c's code path together, so the two positions share the node lookups and
    their cache misses overlap (backward search always asks for such a pair). A backward search passes the symbol
    of its next step as `next_c` (else -1) and the row its step adds the rank to as `after`: the next step's first
    lines are then prefetched before this one's last rank is done. Precondition: 0 <= i <= j <= len(seq).
    """
    shift = wt[-1]
    mask = (1 << shift) - 1
    bi, bj = i >> shift, j >> shift
    ri = rj = 0
    # One inlined walk, run once when both ends share a block, else once per end. As a separate function it took
    # the arrays' tuple (over 100 machine words) at every call: 0.3 us per backward-search step, a warm 12-byte count
    # 2x slower.
    for t in range(1 if bi == bj else 2):
        lo = j & mask if t else i & mask
        ahead = next_c if t or bi == bj else -1
        r_lo, r_hi = _rank_in_block(wt, bj if t else bi, c, lo, j & mask if bi == bj else lo, after, ahead)
        if t:
            rj = r_lo
        else:
            ri, rj = r_lo, r_hi
    return ri, rj


@walker
def rank(wt, c: int, i: int) -> int:
    """Occurrences of dense symbol c in seq[0:i]. Precondition: 0 <= i <= len(seq), 0 <= c < sigma."""
    return rank_pair(wt, c, i, i, np.int64(0), np.int64(-1))[0]


@walker
def access_rank(wt, i: int) -> tuple[int, int]:
    """(c, rank(c, i)) for c = seq[i]: the symbol and its occurrences before i. Precondition: 0 <= i < len(seq)."""
    levels, leaf_symbols = wt[3], wt[4]
    b = i >> wt[-1]
    pos = i & ((1 << wt[-1]) - 1)
    prefix = 0
    depth = 0
    while prefix >= levels[b, depth, 1]:
        row = _node_row(wt, b, _node_at(wt, b, depth, prefix))
        bit, ones = _row_rank(wt, b, row, pos, True)
        pos = ones if bit else pos - ones
        prefix = 2 * prefix + bit
        depth += 1
    c = np.int64(leaf_symbols[b, levels[b, depth, 3] + prefix - levels[b, depth, 0]])
    return c, _symbol(wt, b, c)[0] + pos


WORK_ROWS = 11


@njit(nogil=True, cache=True)
def workspace(count: int) -> np.ndarray:
    """Scratch space for `access_rank_many` or `rank_many` over up to `count` walks."""
    return np.empty((WORK_ROWS, max(count, 1)), dtype=np.int64)


@njit(nogil=True, cache=True, inline="always")
def _fetch_bitvectors(wt, walks, blocks, node, pos, first, sample, ptr, target, ones) -> None:
    """The middle phases of a level of batched walks (`access_rank_many`, `rank_many`): for each walk k of `walks`,
    at position pos[k] of internal node node[k] of block blocks[k], prefetch its bitvector lines, then find its
    chunk (RRR: ones[k], target[k], ptr[k]) or block (hybrid: ones[k], ptr[k], and where its code ends and its ones
    in target[k] and first[k]) and prefetch the word its code starts in. `first` and `sample` keep where the node's
    bitvector starts (RRR: its first chunk and the ones before it; `target` is then the chunk's class)."""
    block_base, classes, offsets, directory, lines = wt[5], wt[7], wt[8], wt[9], wt[10]
    kind = bitvector_kind(classes, offsets, lines)
    if kind == RRR:  # RRR's loops are their own (see access_rank_many)
        for t in range(walks.shape[0]):  # bitvector lines
            k = np.uint64(walks[t])
            first[k], sample[k] = _node_fields(wt[6], wt[12], node[k])
            rrrlines.prefetch_line(lines, directory, block_base[np.uint64(blocks[k]), 1], first[k], pos[k])
    else:
        for t in range(walks.shape[0]):
            k = np.uint64(walks[t])
            a, x, y = _node_row(wt, np.uint64(blocks[k]), node[k])
            if kind == PLAIN:
                first[k] = a
                prefetch(lines, (first[k] + udivmod(pos[k], plainbits.LINE_BITS)[0]) * plainbits.LINE_WORDS)
            else:
                first[k], sample[k], ptr[k] = a, x, y
                if kind == HYBRID:
                    prefetch(directory, sample[k] + (pos[k] >> hybrid.BLOCK_BITS))
    if kind == HYBRID:
        for t in range(walks.shape[0]):  # hybrid: the block's code, once the directory has told where it is
            k = np.uint64(walks[t])
            ones[k], ptr[k], target[k], first[k] = hybrid.locate_block(directory, sample[k], ptr[k], pos[k])
            prefetch(offsets, ptr[k] >> 6)
    elif kind == RRR:
        for t in range(walks.shape[0]):  # RRR: the offset word, once the class scan has found it
            k = np.uint64(walks[t])
            b = np.uint64(blocks[k])
            ones[k], target[k], ptr[k] = rrrlines.find_chunk(
                lines, directory, offsets, block_base[b, 1], block_base[b, 3], first[k], pos[k]
            )
            ones[k] -= sample[k]
            prefetch(offsets, ptr[k] >> 6)


@walker
def access_rank_many(wt, rows: np.ndarray, symbols: np.ndarray, ranks: np.ndarray, work: np.ndarray) -> None:
    """access_rank for every row of `rows`, into `symbols` and `ranks` (int64 arrays of the same length); `work`
    is scratch space from `workspace(len(rows))` or larger, which callers reuse across calls.

    All walks advance one tree level at a time, in phases: first every walk's bitvector lines are prefetched, then
    (RRR) its offset word, and only then is each one read. A single walk is a chain of dependent cache misses; this
    way the misses of independent walks overlap (locate and extract walk many rows). The node rows are not
    prefetched in a phase of their own: they are few enough to stay in the processor's cache (without that phase,
    paired: `compact` snippets and extracts 1-2% faster, `fast` 12-15%, `small` 3%).
    A walk that reaches its leaf only prefetches the leaf's symbol; symbols and counts before the block are read
    when all walks have ended (6-9% faster extract than reading them on the spot).
    Precondition: every row < len(seq).
    """
    levels, leaf_symbols = wt[3], wt[4]
    classes, offsets, directory, lines = wt[7], wt[8], wt[9], wt[10]
    shift = wt[-1]
    kind = bitvector_kind(classes, offsets, lines)
    sigma = leaf_symbols.shape[1]
    flat_leaves = leaf_symbols.reshape(-1)
    count = rows.shape[0]
    blocks, pos, prefix, node, first = work[0], work[1], work[2], work[3], work[4]
    sample, ptr, target, ones, live = work[5], work[6], work[7], work[8], work[9]
    for k in range(count):
        blocks[k] = rows[k] >> shift
        pos[k] = rows[k] & ((1 << shift) - 1)
        prefix[k] = 0
        live[k] = k
    remaining = count
    depth = 0
    while remaining > 0:
        kept = 0
        d = np.uint64(depth)
        for t in range(remaining):  # leaves are done; the others find their nodes
            k = np.uint64(live[t])
            b = np.uint64(blocks[k])
            p = prefix[k]
            if p < levels[b, d, 1]:  # a leaf: its symbol and count are read after all walks end
                symbols[k] = blocks[k] * sigma + levels[b, d, 3] + p - levels[b, d, 0]
                prefetch(flat_leaves, symbols[k])
                continue
            node[k] = _node_at(wt, b, d, p)
            live[kept] = k
            kept += 1
        remaining = kept
        _fetch_bitvectors(wt, live[:remaining], blocks, node, pos, first, sample, ptr, target, ones)
        if kind == RRR:  # a loop of its own: the one for every kind keeps more values live (extract 6% slower)
            for t in range(remaining):
                k = np.uint64(live[t])
                r = udivmod(pos[k], rrr.CHUNK_BITS)[1]
                value = rrr.decode_chunk(offsets, target[k], ptr[k])
                bit = (value >> r) & 1
                below = ones[k] + rrr.POPCOUNT[np.uint64(value & ((1 << r) - 1))]
                pos[k] = below if bit else pos[k] - below
                prefix[k] = 2 * prefix[k] + bit
        else:
            for t in range(remaining):
                k = np.uint64(live[t])
                if kind == PLAIN:
                    bit, below = plainbits.access_rank1(lines, first[k], pos[k])
                elif kind == HYBRID:
                    bit, below = hybrid.decode_block(offsets, ptr[k], target[k], first[k], pos[k] & (hybrid.BLOCK - 1))
                    below += ones[k]
                else:
                    bit, below = _split_rank(classes, offsets, directory, first[k], sample[k], ptr[k], pos[k], True)
                pos[k] = below if bit else pos[k] - below
                prefix[k] = 2 * prefix[k] + bit
        depth += 1
    for k in range(count):
        symbols[k] = flat_leaves[np.uint64(symbols[k])]
        _prefetch_symbol(wt, blocks[k], symbols[k])
    for k in range(count):
        ranks[k] = _symbol(wt, np.uint64(blocks[k]), np.uint64(symbols[k]))[0] + pos[k]


@walker
def rank_many(wt, symbols: np.ndarray, positions: np.ndarray, out: np.ndarray, work: np.ndarray) -> None:
    """out[k] = rank(symbols[k], positions[k]) for every k, all walks advancing together level by level with the
    next lines of every walk prefetched before any is read (as in access_rank_many). Backward search over many
    patterns (or the two ends of one interval) asks for such batches. `work`: from `workspace(len(positions))` or
    larger. Precondition as for `rank`.
    """
    levels = wt[3]
    classes, offsets, directory, lines = wt[7], wt[8], wt[9], wt[10]
    shift = wt[-1]
    kind = bitvector_kind(classes, offsets, lines)
    count = positions.shape[0]
    blocks, pos, length, code, node, first = work[0], work[1], work[2], work[3], work[4], work[5]
    sample, ptr, target, ones, live = work[6], work[7], work[8], work[9], work[10]
    for k in range(count):
        blocks[k] = positions[k] >> shift
        pos[k] = positions[k] & ((1 << shift) - 1)
        _prefetch_symbol(wt, blocks[k], symbols[k])
    remaining = 0
    for k in range(count):
        b = np.uint64(blocks[k])  # unsigned indices: see fmsearch.jit
        out[k], length[k], leaf = _symbol(wt, b, np.uint64(symbols[k]))
        if length[k] == ABSENT or pos[k] == 0:
            continue
        code[k] = levels[b, length[k], 0] + leaf - levels[b, length[k], 3]
        live[remaining] = k
        remaining += 1
    depth = 0
    while remaining > 0:
        kept = 0
        for t in range(remaining):  # finished walks leave; the others find their nodes
            k = np.uint64(live[t])
            if depth == length[k] or pos[k] == 0:
                out[k] += pos[k]
                continue
            b = np.uint64(blocks[k])
            node[k] = _node_at(wt, b, depth, code[k] >> (length[k] - depth))
            live[kept] = k
            kept += 1
        remaining = kept
        _fetch_bitvectors(wt, live[:remaining], blocks, node, pos, first, sample, ptr, target, ones)
        for t in range(remaining):
            k = np.uint64(live[t])
            if kind == PLAIN:
                below = plainbits.rank1(lines, first[k], pos[k])
            elif kind == HYBRID:
                below = ones[k]
                if pos[k] & (hybrid.BLOCK - 1):
                    below += hybrid.decode_block(offsets, ptr[k], target[k], first[k], pos[k] & (hybrid.BLOCK - 1))[1]
            elif kind == RRR:
                r = udivmod(pos[k], rrr.CHUNK_BITS)[1]
                below = ones[k]
                if r:
                    below += rrr.POPCOUNT[np.uint64(rrr.decode_chunk(offsets, target[k], ptr[k]) & ((1 << r) - 1))]
            else:
                below = _split_rank(classes, offsets, directory, first[k], sample[k], ptr[k], pos[k], False)[1]
            pos[k] = below if (code[k] >> (length[k] - 1 - depth)) & 1 else pos[k] - below
        depth += 1
