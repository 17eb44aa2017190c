"""Round-trip properties of the succinct structures under the index: RRR, hybrid and plain bitvectors, packed
integer vectors, the blocked Huffman-shaped wavelet tree (access / rank against plain numpy), the sampled rows
(Elias-Fano) and the inverse of the samples' permutation, and the LF mapping and samples of a built shard."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from numba import njit

import fmsearch
from fmsearch import eliasfano, hybrid, intvector, kernels, permutation, plainbits, rrr, rrrlines, wavelet
from fmsearch.presets import PRESETS


def _node_lengths():
    """Nodes of one block stream: empty, shorter than a chunk, ending on a chunk, on the middle of a line
    (MID_CHUNK chunks) and on a line (LINE_CHUNKS chunks), and long ones; the stream then ends at each of these."""
    chunk, mid, line = rrr.CHUNK_BITS, rrrlines.MID_CHUNK * rrr.CHUNK_BITS, rrrlines.LINE_CHUNKS * rrr.CHUNK_BITS
    yield "one short node", [5]
    yield "ends on the middle", [mid]
    yield "ends on a line", [line]
    yield "ends on the second line", [line - 3 * chunk, 3 * chunk]
    yield "mixed", [0, 1, chunk - 1, chunk, chunk + 1, mid - chunk, 2 * line + 7, 961, 65536, 3]
    yield "ends on a middle later", [chunk, 2 * line + mid - chunk]
    yield "ends among the classes in a line's head", [line - 3 * chunk + 4, line + 2 * chunk]


@pytest.mark.parametrize("density", [0.0, 0.02, 0.5, 1.0])
@pytest.mark.parametrize(("name", "lengths"), list(_node_lengths()), ids=[name for name, _ in _node_lengths()])
def test_rrr_lines_rank_and_access_match_prefix_sums(name, lengths, density):
    rng = np.random.default_rng(len(name) * 100 + int(density * 100))
    nodes = []
    for length in lengths:
        bits = (rng.random(length) < density).astype(np.uint8)
        if length > 100:  # runs make the interesting RRR classes (0 and 15) common, as in a BWT
            bits[length // 3 : length // 2] = 1
        nodes.append(bits)
    chunks = sum(-(-len(bits) // rrr.CHUNK_BITS) for bits in nodes)
    lines = np.zeros(rrrlines.lines_for(chunks) * rrrlines.LINE_WORDS, dtype=np.uint64)
    line_starts = np.zeros(rrrlines.lines_for(chunks), dtype=np.int64)
    offsets = np.zeros(chunks * 13 // 64 + 2, dtype=np.uint64)
    starts, chunk, ptr, ones = [], 0, 0, 0
    for bits in nodes:
        starts.append((chunk, ones))
        chunk, ptr, ones = rrrlines.encode_bits(bits, len(bits), lines, line_starts, offsets, 0, 0, chunk, ptr, ones)
    rrrlines.close(lines, line_starts, 0, 0, chunk, ptr, ones)
    assert chunk == chunks and ones == sum(int(bits.sum()) for bits in nodes)
    line_ptrs = rrrlines.pack_line_ptrs(line_starts)
    for bits, (first, before) in zip(nodes, starts, strict=True):
        length = len(bits)
        prefix = np.concatenate([[0], np.cumsum(bits)])
        edges = np.arange(max(0, length - 20), length + 1)
        positions = np.unique(
            np.concatenate([np.arange(min(length + 1, 130)), edges, rng.integers(0, length + 1, 300)])
        )
        for pos in positions:
            assert rrrlines.rank1(lines, line_ptrs, offsets, 0, 0, first, before, int(pos)) == prefix[pos]
            if pos < length:
                bit, below = rrrlines.access_rank1(lines, line_ptrs, offsets, 0, 0, first, before, int(pos))
                assert (bit, below) == (bits[pos], prefix[pos])
        for i in positions[::3]:  # pairs in one chunk, across chunks, lines and the middle
            for j in {i, i + 1, i + 14, i + 15, i + 200, length}:
                if j <= length:
                    pair = rrrlines.rank1_pair(lines, line_ptrs, offsets, 0, 0, first, before, int(i), int(j))
                    assert pair == (prefix[i], prefix[j])


def _hybrid_patterns():
    """Bit patterns that make each block type the cheapest, and their boundaries."""
    rng = np.random.default_rng(11)
    yield "empty", np.zeros(0, dtype=np.uint8)
    yield "one-bit", np.ones(1, dtype=np.uint8)
    yield "zeros", np.zeros(3000, dtype=np.uint8)
    yield "ones-full-block", np.ones(1024, dtype=np.uint8)
    yield "random", (rng.random(5000) < 0.5).astype(np.uint8)
    yield "sparse-ones", (rng.random(4096) < 0.01).astype(np.uint8)
    yield "sparse-zeros", (rng.random(4097) < 0.99).astype(np.uint8)
    runs = np.repeat(np.arange(400) % 2, rng.integers(1, 60, 400)).astype(np.uint8)
    yield "runs", runs
    mixed = np.concatenate([runs[:1500], np.zeros(1024), (rng.random(2048) < 0.5), np.ones(7), runs[:900]])
    yield "mixed", mixed.astype(np.uint8)
    yield "longest", (np.arange(65536) % 3 == 0).astype(np.uint8)
    yield "long-runs", np.repeat(np.arange(4000) % 2, rng.integers(1, 30, 4000))[:65536].astype(np.uint8)


@pytest.mark.parametrize(("name", "bits"), list(_hybrid_patterns()), ids=[name for name, _ in _hybrid_patterns()])
def test_hybrid_rank_and_access_match_prefix_sums(name, bits):
    length = len(bits)
    blocks = -(-length // hybrid.BLOCK)
    directory = np.zeros(blocks + 1, dtype=np.uint32)
    payload = np.zeros((length + hybrid.HEADER * (blocks + 1)) // 64 + 2, dtype=np.uint64)
    entry, end = hybrid.encode_bits(bits, 0, length, directory, payload, 0, 0)
    assert entry == blocks + 1 and end <= length + hybrid.HEADER * blocks
    prefix = np.concatenate([[0], np.cumsum(bits)])
    positions = np.unique(np.concatenate([np.arange(min(length + 1, 200)), np.arange(max(0, length - 50), length + 1)]))
    positions = np.unique(np.concatenate([positions, np.random.default_rng(length).integers(0, length + 1, 400)]))
    for pos in positions:
        assert hybrid.rank1(directory, payload, 0, 0, int(pos)) == prefix[pos]
        if pos < length:
            assert hybrid.access_rank1(directory, payload, 0, 0, int(pos)) == (bits[pos], prefix[pos])
    headers = [hybrid.read_bits(payload, int(directory[i] >> 16), hybrid.HEADER) for i in range(blocks)]
    kinds = {h if h == hybrid.TWO_SIDED else h & 3 for h in headers}
    expected = {
        "zeros": {hybrid.CONSTANT},
        "random": {hybrid.PLAIN},
        "sparse-ones": {hybrid.MINORITY},
        "runs": {hybrid.TWO_SIDED, hybrid.RUNS},  # full blocks are two-sided; the last one, partial, is not
        "long-runs": {hybrid.TWO_SIDED, hybrid.RUNS},
    }
    assert kinds == expected.get(name, kinds)  # each type is chosen where it is the cheapest


def test_rrr_tables_are_a_bijection_per_class():
    values = np.arange(1 << rrr.CHUNK_BITS)
    decoded = rrr.DECODE[rrr.CLASS_BASE[rrr.POPCOUNT[values]] + rrr.OFFSET_OF[values]]
    assert np.array_equal(decoded, values)
    assert all(rrr.OFFSET_OF[v] < (1 << rrr.WIDTH[rrr.POPCOUNT[v]]) or rrr.WIDTH[rrr.POPCOUNT[v]] == 0 for v in values)


@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("length", [0, 1, 47, 48, 49, 495, 496, 497, 992, 65536])
def test_plain_bitvector_rank_and_access_match_prefix_sums(length, density):
    rng = np.random.default_rng(length + int(density * 10))
    bits = (rng.random(length) < density).astype(np.uint8)
    words = np.zeros(plainbits.lines_for(length) * plainbits.LINE_WORDS + 8, dtype=np.uint64)
    assert plainbits.encode_bits(bits, 0, length, words, 0) == plainbits.lines_for(length)
    prefix = np.concatenate([[0], np.cumsum(bits)])
    for pos in np.unique(np.concatenate([np.arange(min(length + 1, 120)), rng.integers(0, length + 1, 300)])):
        assert plainbits.rank1(words, 0, int(pos)) == prefix[pos]
        if pos < length:
            assert plainbits.access_rank1(words, 0, int(pos)) == (bits[pos], prefix[pos])


@pytest.mark.parametrize("width", [1, 5, 28, 31, 32])
def test_intvector_round_trip(width):
    rng = np.random.default_rng(width)
    values = rng.integers(0, 1 << width, 1000, dtype=np.uint64)
    values[:3] = [0, (1 << width) - 1, 1]
    words = intvector.pack(values, width)
    got = [intvector.get(words, width, i) for i in range(len(values))]
    assert got == values.tolist()


def test_intvector_rejects_wide_values():
    with pytest.raises(ValueError, match="32"):
        intvector.pack(np.zeros(3, dtype=np.uint64), 33)


def _optimal_cost(counts: np.ndarray) -> int:
    heap = [int(c) for c in counts if c > 0]
    if len(heap) < 2:
        return 0
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged
        heapq.heappush(heap, merged)
    return cost


@pytest.mark.parametrize("seed", range(6))
def test_huffman_lengths_are_optimal_and_prefix_free(seed):
    rng = np.random.default_rng(seed)
    counts = np.where(rng.random(40) < 0.3, 0, rng.integers(1, 10_000, 40)).astype(np.int64)
    counts[seed] = 1 + seed  # at least one symbol
    lengths = wavelet.huffman_lengths(counts)
    present = counts > 0
    assert np.all(lengths[~present] == -1)
    if present.sum() > 1:
        assert np.isclose(sum(2.0 ** -lengths[present]), 1.0)  # complete: Kraft equality
    assert int((counts[present] * lengths[present]).sum()) == _optimal_cost(counts)


@njit
def _all_ranks(wt, seq_len, sigma, positions):
    out = np.zeros((positions.shape[0], sigma), dtype=np.int64)
    for k in range(positions.shape[0]):
        for c in range(sigma):
            out[k, c] = wavelet.rank(wt, c, positions[k])
    return out


@njit
def _all_access(wt, n):
    symbols = np.zeros(n, dtype=np.int64)
    ranks = np.zeros(n, dtype=np.int64)
    for i in range(n):
        symbols[i], ranks[i] = wavelet.access_rank(wt, i)
    return symbols, ranks


@pytest.mark.parametrize(
    "name,seq",
    [
        ("one symbol", np.zeros(70_000, dtype=np.uint8)),
        ("two symbols", (np.random.default_rng(1).random(140_000) < 0.1).astype(np.uint8)),
        ("skewed 200", np.minimum(np.random.default_rng(2).geometric(0.05, 150_000) - 1, 199).astype(np.uint8)),
        ("uniform 256", np.random.default_rng(3).integers(0, 256, 140_000).astype(np.uint8)),  # a full 2^17 block
        ("runs", np.repeat(np.random.default_rng(4).integers(0, 30, 3000), 60).astype(np.uint8)),
        # Past one superblock of counts (wavelet.SUPER_BITS): counts before a block come from two tables.
        ("superblocks", np.minimum(np.random.default_rng(5).geometric(0.2, 600_000) - 1, 40).astype(np.uint8)),
        ("short", np.array([3, 1, 2, 1, 0], dtype=np.uint8)),
    ],
)
@pytest.mark.parametrize("bitvectors", wavelet.BITVECTORS)
def test_wavelet_access_and_rank_match_numpy(name, seq, bitvectors):
    sigma = int(seq.max()) + 1
    arrays = wavelet.build_wavelet(seq, sigma, bitvectors)
    wt = wavelet.kernel_arrays(arrays, wavelet.BLOCK_BITS[bitvectors])
    n = len(seq)
    symbols, ranks = _all_access(wt, n)
    assert np.array_equal(symbols, seq)
    occurrences = np.zeros(n, dtype=np.int64)
    seen = np.zeros(sigma, dtype=np.int64)
    for i, s in enumerate(seq):  # rank of seq[i] before i, the LF ingredient
        occurrences[i] = seen[s]
        seen[s] += 1
    assert np.array_equal(ranks, occurrences)
    rng = np.random.default_rng(len(seq))
    positions = np.unique(
        np.concatenate([[0, n, min(n, 1 << wt[-1]), min(n, (1 << wt[-1]) + 1)], rng.integers(0, n + 1, 40)])
    )
    expected = np.stack([np.bincount(seq[:p], minlength=sigma) for p in positions])
    assert np.array_equal(_all_ranks(wt, n, sigma, positions), expected)
    # The batched, prefetching walks give the same answers as one walk at a time.
    many_symbols, many_ranks = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    rows = rng.permutation(n)
    wavelet.access_rank_many(wt, rows, many_symbols, many_ranks, wavelet.workspace(n))
    assert np.array_equal(many_symbols, symbols[rows]) and np.array_equal(many_ranks, ranks[rows])
    batch_symbols = np.repeat(np.arange(sigma), len(positions))
    batch_positions = np.tile(positions, sigma)
    batched = np.zeros(len(batch_positions), dtype=np.int64)
    wavelet.rank_many(wt, batch_symbols, batch_positions, batched, wavelet.workspace(len(batch_positions)))
    assert np.array_equal(batched.reshape(sigma, -1).T, expected)
    pairs = [(int(a), int(b)) for a, b in zip(positions[:-1], positions[1:], strict=True)]
    for c in range(min(sigma, 5)):
        for i, j in pairs:
            expect = (wavelet.rank(wt, c, i), wavelet.rank(wt, c, j))
            assert wavelet.rank_pair(wt, c, i, j, 0, -1) == expect
            # Prefetching a next step (from row `after`, up to the end of the sequence) changes no answer.
            for after in (0, n - expect[1]):
                assert wavelet.rank_pair(wt, c, i, j, after, (c + 1) % sigma) == expect


@njit
def _find_all(heads, bits, low_bits, group_bits, rows):
    return np.array([eliasfano.find(heads, bits, low_bits, group_bits, r) for r in range(rows)])


def test_select_in_word_finds_every_set_bit():
    rng = np.random.default_rng(11)
    words = [0, 1, 1 << 63, 2**64 - 1, 0x8000000000000001, 0xFF << 56, 0x0100]
    words += [int(w) for w in rng.integers(0, 2**63, 300, dtype=np.uint64) * 2 + 1]  # all 64 bits random
    words += [sum(1 << i for i in np.flatnonzero(rng.random(64) < 0.05)) for _ in range(300)]  # sparse
    for word in words:
        ones = [i for i in range(64) if word >> i & 1]
        assert [eliasfano._select_in_word(np.uint64(word), k) for k in range(len(ones))] == ones, hex(word)


@njit
def _select_all(heads, bits, low_bits, group_bits, members):
    return np.array([eliasfano.select(heads, bits, low_bits, group_bits, j) for j in range(members)])


def _member_sets():
    rng = np.random.default_rng(7)
    yield "one-in-32", rng.random(70_000) < 1 / 32
    yield "dense", rng.random(5_000) < 0.6
    yield "all", np.ones(16_385, dtype=bool)
    yield "single-last", np.arange(8_193) == 8_192  # the first row of the second group, either group size
    yield "group-ends", np.isin(np.arange(20_000), [2_047, 2_048, 8_191, 8_192, 16_383, 16_384])
    clustered = np.zeros(20_000, dtype=bool)
    clustered[3_000:3_700] = True  # a whole group's worth in a few buckets, then nothing
    clustered[19_999] = True
    yield "clustered", clustered
    every_32 = np.zeros(9_000, dtype=bool)
    every_32[::32] = True
    yield "every-32", every_32
    skewed = np.zeros(400_000, dtype=bool)  # far from an even spread over many groups: select's search gallops
    skewed[:300] = True
    skewed[395_000:] = rng.random(5_000) < 0.5
    yield "skewed", skewed
    yield "one-row", np.ones(1, dtype=bool)


@pytest.mark.parametrize("group_bits", [eliasfano.LEGACY_GROUP_BITS, eliasfano.GROUP_BITS])
@pytest.mark.parametrize(("name", "members"), list(_member_sets()), ids=[name for name, _ in _member_sets()])
def test_eliasfano_find_and_select_match_numpy(name, members, group_bits):
    rows, count = len(members), int(members.sum())
    low_bits = eliasfano.low_bits_for(rows, count, group_bits)
    assert 0 <= low_bits <= group_bits
    heads, bits = eliasfano.encode(np.packbits(members, bitorder="little"), rows, low_bits, group_bits)
    expected = np.full(rows, -1)
    expected[members] = np.arange(count)
    assert np.array_equal(_find_all(heads, bits, low_bits, group_bits, rows), expected)
    assert np.array_equal(_select_all(heads, bits, low_bits, group_bits, count), np.flatnonzero(members))
    if name == "one-in-32":  # about 2 + low_bits bits per member, plus a head per group
        assert bits.nbytes * 8 < count * (2.3 + low_bits) + 200


def _permutations():
    rng = np.random.default_rng(3)
    yield "random", rng.permutation(10_000)
    yield "one-cycle", np.roll(np.arange(5_000), 1)
    yield "identity", np.arange(1_000)
    yield "reversal", np.arange(3_000)[::-1].copy()
    yield "single", np.zeros(1, dtype=np.int64)


@pytest.mark.parametrize("step", [1, 3, 8, 32, 100_000])
@pytest.mark.parametrize(("name", "perm"), list(_permutations()), ids=[name for name, _ in _permutations()])
def test_permutation_inverse_matches_numpy(name, perm, step):
    m = len(perm)
    width = intvector.width_for(max(m - 1, 1))
    arrays = permutation.build(perm.astype(np.uint32), step, width)
    values = intvector.pack(perm, width)
    holders = eliasfano.member_count(arrays["holder_heads"])
    shortcuts = (
        np.zeros(0, dtype=np.uint64),
        np.zeros(0, dtype=np.uint32),
        arrays["holder_heads"],
        arrays["holder_bits"],
        eliasfano.low_bits_for(m, holders, eliasfano.GROUP_BITS),
        arrays["back"],
        eliasfano.GROUP_BITS,
    )
    got = _inverse_each(values, width, shortcuts, m)
    assert np.array_equal(perm[got], np.arange(m))
    if name == "one-cycle":  # every step-th element of the cycle, none on cycles no longer than step
        assert holders == (-(-m // step) if m > step else 0)


@njit
def _inverse_each(values, width, shortcuts, m):
    return np.array([permutation.inverse(values, width, shortcuts, q) for q in range(m)])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_lf_walk_rebuilds_the_text_and_locate_inverts_it(tmp_path, preset):
    docs = ["abracadabra", "", "b\x00é🎉", "zz" * 40_000, "ab"]
    fmsearch.build_index(docs, tmp_path / "s", preset=preset)
    idx = fmsearch.open_index(tmp_path / "s")
    fm = idx.fm
    n = fm[11]
    text = b"".join(b"\xff" + d.encode() for d in docs)
    assert n == len(text)
    # Walking LF from row 0 (the empty suffix) reads the text backwards, visiting every row once.
    row, seen, out = 0, set(), bytearray()
    for _ in range(n):
        c, row = kernels.lf(fm, row)
        out.append(int(fm[3][c]))
        seen.add(row)
    assert bytes(reversed(out)) == text
    assert len(seen) == n and row == fm[4]  # ends at `primary`, the row of the whole text
    positions = kernels.locate_range(fm, 0, n + 1)
    assert sorted(positions.tolist()) == list(range(n + 1))
    suffixes = sorted(range(n + 1), key=lambda p: text[p:])
    assert positions.tolist() == suffixes
    for lo, hi in [(0, 1), (0, n), (5, 37), (n - 3, n), (64, 128), (63, 129), (100, 5_100), (31, 16_415)]:
        assert kernels.extract(fm, lo, hi).tobytes() == text[lo:hi]
    # The samples: exactly the rows of positions divisible by sa_rate, and back from those positions to their rows.
    rate = idx.manifest["params"]["sa_rate"]
    for row, position in enumerate(suffixes):
        assert kernels.sample_position(fm, row) == (position if position % rate == 0 else -1)
        if position % rate == 0 and position < n:
            assert kernels.sampled_row(fm, position // rate) == row
