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
     * being 0 until set up, then 2 (live) or 3 (cancelled). Live is tested first: polling loops
     * mostly see live tokens. */
    const uint64_t live = (uint64_t)2u << 32 | 0x67674B54u;
    const uint64_t cancelled = (uint64_t)3u << 32 | 0x67674B54u;
    if (token != NULL && ((uintptr_t)(const void *)token & 7u) == 0u) {
        uint64_t word = __atomic_load_n((const uint64_t *)(const void *)token, __ATOMIC_ACQUIRE);
        if (word == live) {
            return false;
        }
        if (word == cancelled) {
            return true;
        }
    }
    return gogroup_cancel_token_is_cancelled(token);
}
#endif
#endif /* GOGROUP_INLINE_H */
