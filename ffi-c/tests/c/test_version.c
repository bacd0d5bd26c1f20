/* Versions and result codes: the header, the library and core agree. */
#include "common.h"

/* The result codes are core's ErrorKind codes (core/src/error.rs); a change there must be a
 * deliberate ABI change here. */
_Static_assert(GOGROUP_RESULT_OK == 0, "OK is 0");
_Static_assert(GOGROUP_RESULT_NEGATIVE_COUNTER == 1, "core code");
_Static_assert(GOGROUP_RESULT_CANCELED == 2, "core code");
_Static_assert(GOGROUP_RESULT_DEADLINE_EXCEEDED == 3, "core code");
_Static_assert(GOGROUP_RESULT_TIMEOUT == 4, "core code");
_Static_assert(GOGROUP_RESULT_LIMIT_IN_USE == 5, "core code");
_Static_assert(GOGROUP_RESULT_PANIC == 6, "core code");
_Static_assert(GOGROUP_RESULT_INVALID_ARGUMENT == 7, "core code");
_Static_assert(GOGROUP_RESULT_CUSTOM == 8, "core code");
_Static_assert(GOGROUP_RESULT_NULL_ARGUMENT == 256, "C ABI code");
_Static_assert(GOGROUP_RESULT_INVALID_HANDLE == 257, "C ABI code");
_Static_assert(GOGROUP_VERSION_NUMBER == ((GOGROUP_VERSION_MAJOR << 16) |
                                          (GOGROUP_VERSION_MINOR << 8) | GOGROUP_VERSION_PATCH),
               "version number packs the parts");

static int library_version_equals_header_version(void) {
    int ok = 0;
    char parts[32];
    CHECK(strcmp(gogroup_version(), GOGROUP_VERSION) == 0);
    snprintf(parts, sizeof parts, "%d.%d.%d", GOGROUP_VERSION_MAJOR, GOGROUP_VERSION_MINOR,
             GOGROUP_VERSION_PATCH);
    CHECK(strcmp(parts, GOGROUP_VERSION) == 0);
    CHECK(gogroup_abi_version() == GOGROUP_ABI_VERSION);
    ok = 1;
cleanup:
    return ok;
}

/* EXPECTED_CRATE_VERSION is passed by the Makefile from Cargo.toml's workspace version. */
static int header_version_equals_crate_version(void) {
    int ok = 0;
#ifdef EXPECTED_CRATE_VERSION
    CHECK(strcmp(GOGROUP_VERSION, EXPECTED_CRATE_VERSION) == 0);
#endif
    ok = 1;
    goto cleanup;
cleanup:
    return ok;
}

static int every_result_has_its_core_name(void) {
    static const struct {
        gogroup_result code;
        const char *name;
    } names[] = {
        {GOGROUP_RESULT_OK, "OK"},
        {GOGROUP_RESULT_NEGATIVE_COUNTER, "NEGATIVE_COUNTER"},
        {GOGROUP_RESULT_CANCELED, "CANCELED"},
        {GOGROUP_RESULT_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
        {GOGROUP_RESULT_TIMEOUT, "TIMEOUT"},
        {GOGROUP_RESULT_LIMIT_IN_USE, "LIMIT_IN_USE"},
        {GOGROUP_RESULT_PANIC, "PANIC"},
        {GOGROUP_RESULT_INVALID_ARGUMENT, "INVALID_ARGUMENT"},
        {GOGROUP_RESULT_CUSTOM, "CUSTOM"},
        {GOGROUP_RESULT_NULL_ARGUMENT, "NULL_ARGUMENT"},
        {GOGROUP_RESULT_INVALID_HANDLE, "INVALID_HANDLE"},
        {GOGROUP_RESULT_OS, "OS"},
    };
    int ok = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK(strcmp(gogroup_result_name((uint32_t)names[i].code), names[i].name) == 0);
    }
    CHECK(strcmp(gogroup_result_name(9), "UNKNOWN") == 0);
    CHECK(strcmp(gogroup_result_name(UINT32_MAX), "UNKNOWN") == 0);
    ok = 1;
cleanup:
    return ok;
}

int main(void) {
    static const struct test_case tests[] = {
        TEST(library_version_equals_header_version),
        TEST(header_version_equals_crate_version),
        TEST(every_result_has_its_core_name),
    };
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
