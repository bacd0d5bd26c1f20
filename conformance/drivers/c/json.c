/* json.c: see json.h. A recursive-descent parser with a depth limit: bad input is an error
 * message, never a crash. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64 };

typedef struct {
    const char *p;
    char *err;
    size_t err_cap;
    bool failed;
} parser;

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fputs("conformance c driver: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (q == NULL) {
        fputs("conformance c driver: out of memory\n", stderr);
        abort();
    }
    return q;
}

static json *error_at(parser *ps, const char *fmt, ...) {
    if (!ps->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->err_cap, fmt, ap);
        va_end(ap);
        ps->failed = true;
    }
    return NULL;
}

static void skip_ws(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') {
        ps->p++;
    }
}

static json *node(json_type type) {
    json *v = xcalloc(1, sizeof *v);
    v->type = type;
    return v;
}

static int hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        } else {
            return -1;
        }
    }
    return v;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string literal at ps->p (which is at the opening quote). */
static char *parse_string(parser *ps) {
    ps->p++;
    size_t cap = 16, len = 0;
    char *out = xcalloc(cap, 1);
    for (;;) {
        unsigned char c = (unsigned char)*ps->p;
        if (len + 5 >= cap) {
            cap *= 2;
            out = xrealloc(out, cap);
        }
        if (c == '\0') {
            free(out);
            error_at(ps, "unterminated string");
            return NULL;
        }
        if (c < 0x20) {
            free(out);
            error_at(ps, "control character in a string");
            return NULL;
        }
        ps->p++;
        if (c == '"') {
            break;
        }
        if (c != '\\') {
            out[len++] = (char)c;
            continue;
        }
        char e = *ps->p++;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            out[len++] = e;
            break;
        case 'b':
            out[len++] = '\b';
            break;
        case 'f':
            out[len++] = '\f';
            break;
        case 'n':
            out[len++] = '\n';
            break;
        case 'r':
            out[len++] = '\r';
            break;
        case 't':
            out[len++] = '\t';
            break;
        case 'u': {
            int cp = hex4(ps->p);
            if (cp < 0) {
                free(out);
                error_at(ps, "bad \\u escape");
                return NULL;
            }
            ps->p += 4;
            unsigned full = (unsigned)cp;
            if (cp >= 0xD800 && cp < 0xDC00 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                int lo = hex4(ps->p + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    full = 0x10000 + (((unsigned)cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                    ps->p += 6;
                }
            }
            if (full >= 0xD800 && full < 0xE000) {
                full = 0xFFFD; /* a lone surrogate */
            }
            len += put_utf8(out + len, full);
            break;
        }
        default:
            free(out);
            error_at(ps, "bad escape \\%c", e ? e : '0');
            return NULL;
        }
    }
    out[len] = '\0';
    return out;
}

static json *parse_value(parser *ps, int depth);

static json *parse_container(parser *ps, int depth, bool object) {
    char close = object ? '}' : ']';
    json *v = node(object ? JSON_OBJECT : JSON_ARRAY);
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (object) {
            if (*ps->p != '"') {
                return error_at(ps, "expected a key");
            }
            key = parse_string(ps);
            if (key == NULL) {
                return NULL;
            }
            skip_ws(ps);
            if (*ps->p != ':') {
                free(key);
                return error_at(ps, "expected ':'");
            }
            ps->p++;
        }
        json *item = parse_value(ps, depth + 1);
        if (item == NULL) {
            free(key);
            return NULL;
        }
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = xrealloc(v->items, cap * sizeof *v->items);
            if (object) {
                v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
            }
        }
        v->items[v->n] = item;
        if (object) {
            v->keys[v->n] = key;
        }
        v->n++;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return v;
        }
        return error_at(ps, "expected ',' or '%c'", close);
    }
}

static json *parse_value(parser *ps, int depth) {
    if (depth > MAX_DEPTH) {
        return error_at(ps, "nested too deeply");
    }
    skip_ws(ps);
    char c = *ps->p;
    if (c == '{' || c == '[') {
        return parse_container(ps, depth, c == '{');
    }
    if (c == '"') {
        char *s = parse_string(ps);
        if (s == NULL) {
            return NULL;
        }
        json *v = node(JSON_STRING);
        v->string = s;
        return v;
    }
    if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
        json *v = node(JSON_BOOL);
        v->boolean = c == 't';
        ps->p += v->boolean ? 4 : 5;
        return v;
    }
    if (strncmp(ps->p, "null", 4) == 0) {
        ps->p += 4;
        return node(JSON_NULL);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char *end = NULL;
        double d = strtod(ps->p, &end);
        if (end == ps->p) {
            return error_at(ps, "bad number");
        }
        ps->p = end;
        json *v = node(JSON_NUMBER);
        v->number = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
        return v;
    }
    return error_at(ps, "unexpected character '%c'", c ? c : '0');
}

json *json_parse(const char *text, char *err, size_t err_cap) {
    parser ps = {text, err, err_cap, false};
    json *v = parse_value(&ps, 0);
    if (v != NULL) {
        skip_ws(&ps);
        if (*ps.p != '\0') {
            error_at(&ps, "trailing characters");
            v = NULL;
        }
    }
    if (v == NULL) {
        size_t used = strlen(err);
        snprintf(err + used, err_cap - used, " at byte %ld", (long)(ps.p - text));
    }
    return v;
}

const json *json_get(const json *v, const char *key) {
    if (v == NULL || v->type != JSON_OBJECT) {
        return NULL;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->keys[i], key) == 0) {
            return v->items[i];
        }
    }
    return NULL;
}

const char *json_str(const json *v) {
    return v != NULL && v->type == JSON_STRING ? v->string : NULL;
}

int64_t json_num(const json *v, int64_t fallback) {
    return v != NULL && v->type == JSON_NUMBER ? v->number : fallback;
}

bool json_is_null(const json *v) {
    return v != NULL && v->type == JSON_NULL;
}

static char *replace_all(const char *s, const char *pattern, const char *value) {
    size_t plen = strlen(pattern), vlen = strlen(value), count = 0;
    for (const char *q = strstr(s, pattern); q != NULL; q = strstr(q + plen, pattern)) {
        count++;
    }
    char *out = xcalloc(strlen(s) + count * vlen + 1, 1);
    char *w = out;
    for (const char *q; (q = strstr(s, pattern)) != NULL; s = q + plen) {
        memcpy(w, s, (size_t)(q - s));
        w += q - s;
        memcpy(w, value, vlen);
        w += vlen;
    }
    strcpy(w, s);
    return out;
}

json *json_substitute(const json *v, const char *var, const char *value) {
    json *c = node(v->type);
    c->boolean = v->boolean;
    c->number = v->number;
    if (v->type == JSON_STRING) {
        char pattern[80];
        snprintf(pattern, sizeof pattern, "{%s}", var);
        c->string = replace_all(v->string, pattern, value);
    }
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        c->n = v->n;
        c->items = xcalloc(v->n, sizeof *c->items);
        if (v->type == JSON_OBJECT) {
            c->keys = xcalloc(v->n, sizeof *c->keys);
        }
        for (size_t i = 0; i < v->n; i++) {
            c->items[i] = json_substitute(v->items[i], var, value);
            if (v->type == JSON_OBJECT) {
                c->keys[i] = xcalloc(strlen(v->keys[i]) + 1, 1);
                strcpy(c->keys[i], v->keys[i]);
            }
        }
    }
    return c;
}

typedef struct {
    char *out;
    size_t cap, len;
} writer;

static void put(writer *w, const char *s) {
    for (; *s != '\0' && w->len + 1 < w->cap; s++) {
        w->out[w->len++] = *s;
    }
    w->out[w->len] = '\0';
}

static void put_string(writer *w, const char *s) {
    put(w, "\"");
    for (; *s != '\0'; s++) {
        char buf[8];
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            snprintf(buf, sizeof buf, "\\%c", c);
        } else if (c < 0x20) {
            snprintf(buf, sizeof buf, "\\u%04x", c);
        } else {
            buf[0] = (char)c;
            buf[1] = '\0';
        }
        put(w, buf);
    }
    put(w, "\"");
}

static void write_value(writer *w, const json *v) {
    char buf[32];
    switch (v->type) {
    case JSON_NULL:
        put(w, "null");
        break;
    case JSON_BOOL:
        put(w, v->boolean ? "true" : "false");
        break;
    case JSON_NUMBER:
        snprintf(buf, sizeof buf, "%lld", (long long)v->number);
        put(w, buf);
        break;
    case JSON_STRING:
        put_string(w, v->string);
        break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        put(w, v->type == JSON_ARRAY ? "[" : "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0) {
                put(w, ",");
            }
            if (v->type == JSON_OBJECT) {
                put_string(w, v->keys[i]);
                put(w, ":");
            }
            write_value(w, v->items[i]);
        }
        put(w, v->type == JSON_ARRAY ? "]" : "}");
        break;
    }
}

void json_write(const json *v, char *out, size_t cap) {
    writer w = {out, cap, 0};
    if (cap == 0) {
        return;
    }
    out[0] = '\0';
    write_value(&w, v);
}
