/*
 * json.h: the minimal JSON reader of the C conformance driver (RFC 8259 values; numbers are
 * kept as int64_t, the only numbers scenarios use). Written for the driver, not vendored.
 *
 * A parsed value is a tree of immutable nodes, never freed by the driver: tasks running on
 * gogroup's pool may still read a scenario's steps after the scenario ended.
 */
#ifndef CONFORMANCE_JSON_H
#define CONFORMANCE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json json;
struct json {
    json_type type;
    bool boolean;
    int64_t number;
    char *string; /* JSON_STRING: NUL-terminated (a \u0000 ends it early) */
    size_t n;     /* JSON_ARRAY, JSON_OBJECT: number of items */
    json **items; /* the items (values, for an object) */
    char **keys;  /* JSON_OBJECT: the keys, in file order */
};

/* calloc that never returns NULL: the driver (and this reader) abort on out-of-memory. */
void *xcalloc(size_t n, size_t size);

/* Parses `text` (NUL-terminated). On error returns NULL and writes a message into `err`. */
json *json_parse(const char *text, char *err, size_t err_cap);

/* The member `key` of an object, or NULL (also when `v` is NULL or not an object). */
const json *json_get(const json *v, const char *key);

/* The string of `v` if it is one, else NULL. */
const char *json_str(const json *v);

/* The number of `v` if it is one, else `fallback`. */
int64_t json_num(const json *v, int64_t fallback);

/* Whether `v` is the JSON value null (not a missing member: that is NULL). */
bool json_is_null(const json *v);

/* A deep copy of `v` where every "{var}" in a string is replaced by `value`. */
json *json_substitute(const json *v, const char *var, const char *value);

/* Writes `v` as compact JSON into `out` (truncated to `cap`, always NUL-terminated). */
void json_write(const json *v, char *out, size_t cap);

#endif
