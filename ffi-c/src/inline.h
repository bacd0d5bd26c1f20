/* Header-only part of the C API (cbindgen's trailer; it has its own include guard). */
#ifndef GOGROUP_INLINE_H
#define GOGROUP_INLINE_H
#if defined(__GNUC__) || defined(__clang__)
/**
 * gogroup_cancel_token_is_cancelled, inlined into the caller: the same answer, without a call
 * into the library once the handle is set up (for hot polling loops).
 *
 * It reads the first word of the handle's header (magic and state cell: see ffi-c/README.md,
 * "Handles across copies"), so it works on handles of any copy of gogroup with the same
 * GOGROUP_ABI_VERSION. Whenever the fast path cannot answer (NULL, a misaligned or invalid
 * handle, a cell not set up yet), it calls gogroup_cancel_token_is_cancelled, which answers
 * and sets the cell up. Any thread. GCC and Clang only (it uses __atomic builtins).
 */
static inline bool gogroup_cancel_token_is_cancelled_inline(const gogroup_cancel_token *token) {
    /* The header word of a token handle of ABI 1 is magic | cell << 32 (native order), the cell
     * being 0 until set up, then 2 (live) or 3 (cancelled). Setting the cell's low bit maps
     * both set-up states to 3: one compare accepts either, and that bit is the answer. */
    const uint64_t set_up = (uint64_t)3u << 32 | 0x67674B54u;
#if defined(__x86_64__) || defined(__i386__)
    /* x86 reads a misaligned word without faulting, and a misaligned pointer (never a handle)
     * fails the compare and goes to the exported check below, which rejects it: no alignment
     * test here, one branch less in polling loops. */
    const bool readable = token != NULL;
#else
    const bool readable = token != NULL && ((uintptr_t)(const void *)token & 7u) == 0u;
#endif
    if (readable) {
        uint64_t word = __atomic_load_n((const uint64_t *)(const void *)token, __ATOMIC_ACQUIRE);
        if ((word | (uint64_t)1u << 32) == set_up) {
            return (word >> 32 & 1u) != 0u;
        }
    }
    return gogroup_cancel_token_is_cancelled(token);
}
#endif
#endif /* GOGROUP_INLINE_H */
