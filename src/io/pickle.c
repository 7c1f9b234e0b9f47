// Non-executing pickle reader (protocols 2-5) and the torch.save layer on top.
//
// Python's pickle is a small stack machine whose GLOBAL/REDUCE opcodes import
// and call arbitrary code. We run the stack machine but never import or call:
// a GLOBAL becomes a name, and REDUCE/NEWOBJ of a name builds a plain record.
// The few callables a torch state_dict needs are recognised by name:
//   collections.OrderedDict                      -> dict
//   torch._utils._rebuild_tensor_v2 / _rebuild_tensor -> tensor record (storage, offset, size, stride)
//   torch._utils._rebuild_parameter[_with_state] -> its data argument
// Anything else (argparse.Namespace, numpy scalars, ...) is an opaque object
// that keeps its BUILD state, so its fields stay readable as metadata.
//
// Every read is bounds-checked; the stack, mark stack and memo are bounded, and
// the value arena is capped relative to the input size, so hostile input gives
// an error, never a crash or an unbounded allocation.
#include "io/io_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PK_MAX_STACK (1u << 24)
#define PK_MAX_MARKS (1u << 20)
#define PK_MAX_WALK_DEPTH 32

// ---- value arena ----------------------------------------------------------------

typedef struct pk_chunk {
    struct pk_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} pk_chunk;

struct pc_pickle {
    pk_chunk *chunks;
    size_t bytes, limit;
    pc_pval *root;
    pc_pval **storages;  // every persistent-id storage, in order of appearance
    size_t nstorages, storages_cap;
};

static void *pk_alloc(pc_pickle *pk, size_t size) {
    size = (size + 15) & ~(size_t)15;
    pk_chunk *c = pk->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        if (pk->bytes + cap > pk->limit) return NULL;
        c = (pk_chunk *)malloc(sizeof(pk_chunk) + cap);
        if (!c) return NULL;
        c->next = pk->chunks;
        c->used = 0;
        c->cap = cap;
        pk->chunks = c;
        pk->bytes += cap;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

void pc_pickle_free(pc_pickle *pk) {
    if (!pk) return;
    pk_chunk *c = pk->chunks;
    while (c) {
        pk_chunk *n = c->next;
        free(c);
        c = n;
    }
    free(pk->storages);
    free(pk);
}

pc_pval *pc_pickle_root(const pc_pickle *pk) { return pk->root; }

// ---- parser state -------------------------------------------------------------------

typedef struct {
    pc_pickle *pk;
    const uint8_t *buf;
    size_t n, pos;
    const char *label;
    pc_error *err;
    pc_pval **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pc_pval **memo;
    size_t memo_cap, memo_len, memo_limit;
    size_t op_at;  // offset of the opcode being run
    uint8_t op;
} pk_parser;

static pc_status pk_fail(pk_parser *p, pc_status st, const char *what) {
    return pc_err(p->err, st, "file %s: pickle: %s (opcode 0x%02x at offset %zu)", p->label, what, p->op, p->op_at);
}

static pc_pval *pk_new(pk_parser *p, pc_pk_kind kind) {
    pc_pval *v = (pc_pval *)pk_alloc(p->pk, sizeof(pc_pval));
    if (!v) return NULL;
    memset(v, 0, sizeof(*v));
    v->kind = kind;
    return v;
}

static int seq_push(pc_pickle *pk, pc_pval *s, pc_pval *item) {
    if (s->u.seq.n == s->u.seq.cap) {
        size_t nc = s->u.seq.cap ? s->u.seq.cap * 2 : 4;
        if (nc > ((size_t)1 << 40) / sizeof(pc_pval *)) return 0;
        pc_pval **a = (pc_pval **)pk_alloc(pk, nc * sizeof(pc_pval *));
        if (!a) return 0;
        if (s->u.seq.n) memcpy(a, s->u.seq.items, s->u.seq.n * sizeof(pc_pval *));
        s->u.seq.items = a;
        s->u.seq.cap = nc;
    }
    s->u.seq.items[s->u.seq.n++] = item;
    return 1;
}

static size_t frame_base(const pk_parser *p) { return p->nmarks ? p->marks[p->nmarks - 1] : 0; }

static pc_status push(pk_parser *p, pc_pval *v) {
    if (!v) return pk_fail(p, PC_ERR_MEMORY, "out of memory (or value limit reached)");
    if (p->sp == p->scap) {
        if (p->scap >= PK_MAX_STACK) return pk_fail(p, PC_ERR_FORMAT, "stack too deep");
        size_t nc = p->scap ? p->scap * 2 : 256;
        pc_pval **s = (pc_pval **)realloc(p->stack, nc * sizeof(pc_pval *));
        if (!s) return pk_fail(p, PC_ERR_MEMORY, "out of memory");
        p->stack = s;
        p->scap = nc;
    }
    p->stack[p->sp++] = v;
    return PC_OK;
}

// Pop one value from the current frame (above the last MARK).
static pc_pval *pop(pk_parser *p) {
    if (p->sp <= frame_base(p)) return NULL;
    return p->stack[--p->sp];
}

static pc_pval *top(pk_parser *p) { return p->sp > frame_base(p) ? p->stack[p->sp - 1] : NULL; }

// Items since the last MARK: [*first, p->sp); removes the mark. Returns 0 without a mark.
static int pop_mark(pk_parser *p, size_t *first) {
    if (!p->nmarks) return 0;
    *first = p->marks[--p->nmarks];
    return 1;
}

static int need(pk_parser *p, size_t k) { return p->n - p->pos >= k; }

static int read_line(pk_parser *p, const char **s, size_t *len) {
    const uint8_t *start = p->buf + p->pos;
    const uint8_t *nl = (const uint8_t *)memchr(start, '\n', p->n - p->pos);
    if (!nl) return 0;
    *s = (const char *)start;
    *len = (size_t)(nl - start);
    p->pos += *len + 1;
    return 1;
}

static int str_eq(const char *s, size_t n, const char *lit) { return strlen(lit) == n && !memcmp(s, lit, n); }

static int glob_is(const pc_pval *g, const char *mod, const char *name) {
    return g && g->kind == PC_PK_GLOBAL && str_eq(g->u.glob.mod, g->u.glob.mod_len, mod) &&
           str_eq(g->u.glob.name, g->u.glob.name_len, name);
}

static int storage_dtype(const char *name, size_t len) {
    static const struct {
        const char *name;
        int dt;
    } tab[] = {{"FloatStorage", PC_F32},   {"HalfStorage", PC_F16},  {"BFloat16Storage", PC_BF16},
               {"DoubleStorage", PC_F64},  {"LongStorage", PC_I64},  {"IntStorage", PC_I32},
               {"ShortStorage", PC_I16},   {"CharStorage", PC_I8},   {"ByteStorage", PC_U8},
               {"BoolStorage", PC_BOOL},   {"UntypedStorage", PC_U8}};
    for (size_t i = 0; i < PC_ARRAY_LEN(tab); i++)
        if (str_eq(name, len, tab[i].name)) return tab[i].dt;
    return -1;
}

static int as_int(const pc_pval *v, int64_t *out) {
    if (!v || (v->kind != PC_PK_INT && v->kind != PC_PK_BOOL)) return 0;
    *out = v->u.i;
    return 1;
}

// Tuple of <= PC_MAX_DIMS non-negative ints (torch.Size pickles as a tuple).
static int as_dims(const pc_pval *v, int64_t *out, int *nd) {
    if (!v || (v->kind != PC_PK_TUPLE && v->kind != PC_PK_LIST) || v->u.seq.n > PC_MAX_DIMS) return 0;
    for (size_t i = 0; i < v->u.seq.n; i++)
        if (!as_int(v->u.seq.items[i], &out[i]) || out[i] < 0) return 0;
    *nd = (int)v->u.seq.n;
    return 1;
}

// REDUCE / NEWOBJ: build the value for callable(args) without calling anything.
static pc_status do_call(pk_parser *p, pc_pval *fn, pc_pval *args) {
    int is_tuple = args && args->kind == PC_PK_TUPLE;
    size_t na = is_tuple ? args->u.seq.n : 0;
    pc_pval **a = is_tuple ? args->u.seq.items : NULL;
    if (glob_is(fn, "collections", "OrderedDict") || glob_is(fn, "builtins", "dict") ||
        glob_is(fn, "__builtin__", "dict")) {
        pc_pval *d = pk_new(p, PC_PK_DICT);
        if (!d) return push(p, NULL);
        // OrderedDict([(k, v), ...]) form
        if (na == 1 && (a[0]->kind == PC_PK_LIST || a[0]->kind == PC_PK_TUPLE)) {
            for (size_t i = 0; i < a[0]->u.seq.n; i++) {
                pc_pval *kv = a[0]->u.seq.items[i];
                if ((kv->kind != PC_PK_TUPLE && kv->kind != PC_PK_LIST) || kv->u.seq.n != 2)
                    return pk_fail(p, PC_ERR_FORMAT, "OrderedDict argument is not a list of pairs");
                if (!seq_push(p->pk, d, kv->u.seq.items[0]) || !seq_push(p->pk, d, kv->u.seq.items[1]))
                    return push(p, NULL);
            }
        }
        return push(p, d);
    }
    if (glob_is(fn, "torch._utils", "_rebuild_tensor_v2") || glob_is(fn, "torch._utils", "_rebuild_tensor")) {
        pc_pk_tensor *t = (pc_pk_tensor *)pk_alloc(p->pk, sizeof(pc_pk_tensor));
        pc_pval *v = pk_new(p, PC_PK_TENSOR);
        if (!t || !v) return push(p, NULL);
        memset(t, 0, sizeof(*t));
        int nd1 = 0, nd2 = 0;
        if (na < 4 || a[0]->kind != PC_PK_STORAGE || !as_int(a[1], &t->offset) || t->offset < 0 ||
            !as_dims(a[2], t->size, &nd1) || !as_dims(a[3], t->stride, &nd2) || nd1 != nd2)
            return pk_fail(p, PC_ERR_FORMAT,
                           "torch._utils._rebuild_tensor_v2 arguments are not (storage, offset, size, stride) with "
                           "non-negative values and rank <= 8");
        t->storage = a[0];
        t->ndim = nd1;
        v->u.tensor = t;
        return push(p, v);
    }
    if (glob_is(fn, "torch._utils", "_rebuild_parameter") ||
        glob_is(fn, "torch._utils", "_rebuild_parameter_with_state") ||
        glob_is(fn, "torch.nn.parameter", "Parameter")) {
        if (na < 1) return pk_fail(p, PC_ERR_FORMAT, "_rebuild_parameter without arguments");
        return push(p, a[0]);
    }
    pc_pval *o = pk_new(p, PC_PK_OBJECT);
    if (!o) return push(p, NULL);
    o->u.obj.cls = fn;
    o->u.obj.args = args;
    return push(p, o);
}

// Object state store for SETITEM(S)/APPEND(S) on an opaque object (dict or
// list subclasses): items go into a dict / list kept as the object's state.
static pc_pval *obj_container(pk_parser *p, pc_pval *o, pc_pk_kind kind) {
    pc_pval *s = o->u.obj.state;
    if (s && s->kind == kind) return s;
    if (s) return NULL;
    s = pk_new(p, kind);
    o->u.obj.state = s;
    return s;
}

static pc_status memo_put(pk_parser *p, uint64_t key, pc_pval *v) {
    if (!v) return pk_fail(p, PC_ERR_FORMAT, "memo put with an empty stack");
    if (key >= p->memo_limit) return pk_fail(p, PC_ERR_FORMAT, "memo key too large for the file size");
    if (key >= p->memo_cap) {
        size_t nc = p->memo_cap ? p->memo_cap : 256;
        while (nc <= key) nc *= 2;
        pc_pval **m = (pc_pval **)realloc(p->memo, nc * sizeof(pc_pval *));
        if (!m) return pk_fail(p, PC_ERR_MEMORY, "out of memory");
        memset(m + p->memo_cap, 0, (nc - p->memo_cap) * sizeof(pc_pval *));
        p->memo = m;
        p->memo_cap = nc;
    }
    if (!p->memo[key]) p->memo_len++;
    p->memo[key] = v;
    return PC_OK;
}

static pc_status memo_get(pk_parser *p, uint64_t key) {
    if (key >= p->memo_cap || !p->memo[key]) return pk_fail(p, PC_ERR_FORMAT, "memo get of an unset key");
    return push(p, p->memo[key]);
}

static pc_status push_str(pk_parser *p, pc_pk_kind kind, uint64_t len) {
    if (!need(p, len)) return pk_fail(p, PC_ERR_FORMAT, "string length runs past the end of the data");
    pc_pval *v = pk_new(p, kind);
    if (v) {
        v->u.str.s = (const char *)p->buf + p->pos;
        v->u.str.len = (size_t)len;
    }
    p->pos += (size_t)len;
    return push(p, v);
}

static pc_status parse_decimal(pk_parser *p, const char *s, size_t len, int64_t *out) {
    char tmp[32];
    if (len && s[len - 1] == 'L') len--;  // protocol-0 LONG
    if (len == 0 || len >= sizeof(tmp)) return pk_fail(p, PC_ERR_FORMAT, "bad decimal integer");
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end) return pk_fail(p, PC_ERR_FORMAT, "bad decimal integer");
    *out = v;
    return PC_OK;
}

static pc_status run(pk_parser *p) {
    for (;;) {
        if (p->pos >= p->n) {
            return pc_err(p->err, PC_ERR_FORMAT, "file %s: pickle: data ends at offset %zu without STOP (truncated)",
                          p->label, p->pos);
        }
        p->op_at = p->pos;
        uint8_t op = p->op = p->buf[p->pos++];
        pc_status st = PC_OK;
        pc_pval *v, *k, *t;
        size_t first;
        switch (op) {
        case 0x80:  // PROTO
            if (!need(p, 1)) goto trunc;
            if (p->buf[p->pos] > 5) return pk_fail(p, PC_ERR_UNSUPPORTED, "pickle protocol above 5");
            p->pos++;
            break;
        case 0x95:  // FRAME: 8-byte length of the next frame; frames are only a buffering hint
            if (!need(p, 8)) goto trunc;
            p->pos += 8;
            break;
        case '.': {  // STOP
            v = pop(p);
            if (!v) return pk_fail(p, PC_ERR_FORMAT, "STOP with an empty stack");
            p->pk->root = v;
            return PC_OK;
        }
        case '(':  // MARK
            if (p->nmarks == p->mcap) {
                if (p->mcap >= PK_MAX_MARKS) return pk_fail(p, PC_ERR_FORMAT, "too many nested MARKs");
                size_t nc = p->mcap ? p->mcap * 2 : 64;
                size_t *m = (size_t *)realloc(p->marks, nc * sizeof(size_t));
                if (!m) return pk_fail(p, PC_ERR_MEMORY, "out of memory");
                p->marks = m;
                p->mcap = nc;
            }
            p->marks[p->nmarks++] = p->sp;
            break;
        case '0':  // POP (pops a MARK when the frame is empty, like CPython)
            if (!pop(p) && !pop_mark(p, &first)) return pk_fail(p, PC_ERR_FORMAT, "POP on an empty stack");
            break;
        case '1':  // POP_MARK
            if (!pop_mark(p, &first)) return pk_fail(p, PC_ERR_FORMAT, "POP_MARK without MARK");
            p->sp = first;
            break;
        case '2':  // DUP
            if (!(v = top(p))) return pk_fail(p, PC_ERR_FORMAT, "DUP on an empty stack");
            st = push(p, v);
            break;
        case 'N': st = push(p, pk_new(p, PC_PK_NONE)); break;
        case 0x88:  // NEWTRUE
        case 0x89:  // NEWFALSE
            v = pk_new(p, PC_PK_BOOL);
            if (v) v->u.i = op == 0x88;
            st = push(p, v);
            break;
        case 'J':  // BININT
            if (!need(p, 4)) goto trunc;
            v = pk_new(p, PC_PK_INT);
            if (v) v->u.i = (int32_t)pc_rd_u32le(p->buf + p->pos);
            p->pos += 4;
            st = push(p, v);
            break;
        case 'K':  // BININT1
            if (!need(p, 1)) goto trunc;
            v = pk_new(p, PC_PK_INT);
            if (v) v->u.i = p->buf[p->pos];
            p->pos += 1;
            st = push(p, v);
            break;
        case 'M':  // BININT2
            if (!need(p, 2)) goto trunc;
            v = pk_new(p, PC_PK_INT);
            if (v) v->u.i = pc_rd_u16le(p->buf + p->pos);
            p->pos += 2;
            st = push(p, v);
            break;
        case 0x8a:    // LONG1
        case 0x8b: {  // LONG4
            uint64_t len;
            if (op == 0x8a) {
                if (!need(p, 1)) goto trunc;
                len = p->buf[p->pos++];
            } else {
                if (!need(p, 4)) goto trunc;
                int32_t l = (int32_t)pc_rd_u32le(p->buf + p->pos);
                p->pos += 4;
                if (l < 0) return pk_fail(p, PC_ERR_FORMAT, "LONG4 with negative length");
                len = (uint64_t)l;
            }
            if (!need(p, len)) goto trunc;
            const uint8_t *b = p->buf + p->pos;
            p->pos += (size_t)len;
            if (len > 8) {
                v = pk_new(p, PC_PK_BIGINT);
            } else {
                uint64_t u = 0;
                for (size_t i = 0; i < len; i++) u |= (uint64_t)b[i] << (8 * i);
                if (len && len < 8 && (b[len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len);  // sign-extend
                v = pk_new(p, PC_PK_INT);
                if (v) v->u.i = (int64_t)u;
            }
            st = push(p, v);
            break;
        }
        case 'I':    // INT (text)
        case 'L': {  // LONG (text)
            const char *s;
            size_t len;
            int64_t iv;
            if (!read_line(p, &s, &len)) goto trunc;
            if (op == 'I' && (str_eq(s, len, "00") || str_eq(s, len, "01"))) {
                v = pk_new(p, PC_PK_BOOL);
                if (v) v->u.i = s[1] == '1';
            } else {
                if ((st = parse_decimal(p, s, len, &iv)) != PC_OK) return st;
                v = pk_new(p, PC_PK_INT);
                if (v) v->u.i = iv;
            }
            st = push(p, v);
            break;
        }
        case 'G': {  // BINFLOAT: big-endian double
            if (!need(p, 8)) goto trunc;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u = (u << 8) | p->buf[p->pos + (size_t)i];
            p->pos += 8;
            v = pk_new(p, PC_PK_FLOAT);
            if (v) memcpy(&v->u.f, &u, 8);
            st = push(p, v);
            break;
        }
        case 'F': {  // FLOAT (text)
            const char *s;
            size_t len;
            char tmp[64];
            if (!read_line(p, &s, &len)) goto trunc;
            if (len == 0 || len >= sizeof(tmp)) return pk_fail(p, PC_ERR_FORMAT, "bad FLOAT text");
            memcpy(tmp, s, len);
            tmp[len] = 0;
            v = pk_new(p, PC_PK_FLOAT);
            if (v) v->u.f = strtod(tmp, NULL);
            st = push(p, v);
            break;
        }
        case 'X':  // BINUNICODE
        case 'T':  // BINSTRING
        case 'B':  // BINBYTES
            if (!need(p, 4)) goto trunc;
            {
                uint32_t len = pc_rd_u32le(p->buf + p->pos);
                p->pos += 4;
                if (op == 'T' && (int32_t)len < 0) return pk_fail(p, PC_ERR_FORMAT, "BINSTRING with negative length");
                st = push_str(p, op == 'B' ? PC_PK_BYTES : PC_PK_STR, len);
            }
            break;
        case 0x8c:  // SHORT_BINUNICODE
        case 'U':   // SHORT_BINSTRING
        case 'C':   // SHORT_BINBYTES
            if (!need(p, 1)) goto trunc;
            {
                uint8_t len = p->buf[p->pos++];
                st = push_str(p, op == 'C' ? PC_PK_BYTES : PC_PK_STR, len);
            }
            break;
        case 0x8d:  // BINUNICODE8
        case 0x8e:  // BINBYTES8
        case 0x96:  // BYTEARRAY8
            if (!need(p, 8)) goto trunc;
            {
                uint64_t len = pc_rd_u64le(p->buf + p->pos);
                p->pos += 8;
                st = push_str(p, op == 0x8d ? PC_PK_STR : PC_PK_BYTES, len);
            }
            break;
        case ')': st = push(p, pk_new(p, PC_PK_TUPLE)); break;  // EMPTY_TUPLE
        case ']': st = push(p, pk_new(p, PC_PK_LIST)); break;   // EMPTY_LIST
        case '}': st = push(p, pk_new(p, PC_PK_DICT)); break;   // EMPTY_DICT
        case 0x8f: st = push(p, pk_new(p, PC_PK_LIST)); break;  // EMPTY_SET: kept as a list
        case 0x85:    // TUPLE1
        case 0x86:    // TUPLE2
        case 0x87: {  // TUPLE3
            size_t cnt = (size_t)(op - 0x84);
            if (p->sp - frame_base(p) < cnt) return pk_fail(p, PC_ERR_FORMAT, "TUPLE1/2/3 with too few items");
            v = pk_new(p, PC_PK_TUPLE);
            if (!v) return push(p, NULL);
            for (size_t i = p->sp - cnt; i < p->sp; i++)
                if (!seq_push(p->pk, v, p->stack[i])) return push(p, NULL);
            p->sp -= cnt;
            st = push(p, v);
            break;
        }
        case 't':     // TUPLE
        case 'l':     // LIST
        case 0x91:    // FROZENSET
        case 'd': {   // DICT
            if (!pop_mark(p, &first)) return pk_fail(p, PC_ERR_FORMAT, "TUPLE/LIST/DICT without MARK");
            if (op == 'd' && (p->sp - first) % 2) return pk_fail(p, PC_ERR_FORMAT, "DICT with an odd item count");
            v = pk_new(p, op == 't' ? PC_PK_TUPLE : op == 'd' ? PC_PK_DICT : PC_PK_LIST);
            if (!v) return push(p, NULL);
            for (size_t i = first; i < p->sp; i++)
                if (!seq_push(p->pk, v, p->stack[i])) return push(p, NULL);
            p->sp = first;
            st = push(p, v);
            break;
        }
        case 'a':  // APPEND
            if (!(v = pop(p)) || !(t = top(p))) return pk_fail(p, PC_ERR_FORMAT, "APPEND with too few items");
            if (t->kind == PC_PK_OBJECT) t = obj_container(p, t, PC_PK_LIST);
            if (!t || t->kind != PC_PK_LIST) return pk_fail(p, PC_ERR_FORMAT, "APPEND to a non-list");
            if (!seq_push(p->pk, t, v)) return push(p, NULL);
            break;
        case 'e':     // APPENDS
        case 0x90:    // ADDITEMS
        case 'u': {   // SETITEMS
            if (!pop_mark(p, &first)) return pk_fail(p, PC_ERR_FORMAT, "APPENDS/SETITEMS without MARK");
            size_t cnt = p->sp - first;
            p->sp = first;  // items stay readable in stack[first..first+cnt)
            if (!(t = top(p))) return pk_fail(p, PC_ERR_FORMAT, "APPENDS/SETITEMS without a target");
            pc_pk_kind want = op == 'u' ? PC_PK_DICT : PC_PK_LIST;
            if (t->kind == PC_PK_OBJECT) t = obj_container(p, t, want);
            if (!t || t->kind != want) return pk_fail(p, PC_ERR_FORMAT, "APPENDS/SETITEMS target of the wrong type");
            if (op == 'u' && cnt % 2) return pk_fail(p, PC_ERR_FORMAT, "SETITEMS with an odd item count");
            for (size_t i = 0; i < cnt; i++)
                if (!seq_push(p->pk, t, p->stack[first + i])) return push(p, NULL);
            break;
        }
        case 's':  // SETITEM
            if (!(v = pop(p)) || !(k = pop(p)) || !(t = top(p)))
                return pk_fail(p, PC_ERR_FORMAT, "SETITEM with too few items");
            if (t->kind == PC_PK_OBJECT) t = obj_container(p, t, PC_PK_DICT);
            if (!t || t->kind != PC_PK_DICT) return pk_fail(p, PC_ERR_FORMAT, "SETITEM on a non-dict");
            if (!seq_push(p->pk, t, k) || !seq_push(p->pk, t, v)) return push(p, NULL);
            break;
        case 'c': {  // GLOBAL module\nname\n
            const char *m, *nm;
            size_t ml, nl;
            if (!read_line(p, &m, &ml) || !read_line(p, &nm, &nl)) goto trunc;
            v = pk_new(p, PC_PK_GLOBAL);
            if (v) {
                v->u.glob.mod = m;
                v->u.glob.mod_len = ml;
                v->u.glob.name = nm;
                v->u.glob.name_len = nl;
            }
            st = push(p, v);
            break;
        }
        case 0x93:  // STACK_GLOBAL
            if (!(k = pop(p)) || !(t = pop(p)) || k->kind != PC_PK_STR || t->kind != PC_PK_STR)
                return pk_fail(p, PC_ERR_FORMAT, "STACK_GLOBAL needs two strings");
            v = pk_new(p, PC_PK_GLOBAL);
            if (v) {
                v->u.glob.mod = t->u.str.s;
                v->u.glob.mod_len = t->u.str.len;
                v->u.glob.name = k->u.str.s;
                v->u.glob.name_len = k->u.str.len;
            }
            st = push(p, v);
            break;
        case 'R':  // REDUCE
            if (!(v = pop(p)) || !(t = pop(p))) return pk_fail(p, PC_ERR_FORMAT, "REDUCE with too few items");
            st = do_call(p, t, v);
            break;
        case 0x81:  // NEWOBJ
            if (!(v = pop(p)) || !(t = pop(p))) return pk_fail(p, PC_ERR_FORMAT, "NEWOBJ with too few items");
            st = do_call(p, t, v);
            break;
        case 0x92:  // NEWOBJ_EX: cls, args, kwargs
            if (!pop(p) || !(v = pop(p)) || !(t = pop(p)))
                return pk_fail(p, PC_ERR_FORMAT, "NEWOBJ_EX with too few items");
            st = do_call(p, t, v);
            break;
        case 'b':  // BUILD
            if (!(v = pop(p)) || !(t = top(p))) return pk_fail(p, PC_ERR_FORMAT, "BUILD with too few items");
            if (t->kind == PC_PK_OBJECT) {
                pc_pval *s = t->u.obj.state;
                if (s && s->kind == PC_PK_DICT && v->kind == PC_PK_DICT) {
                    // items set earlier (dict subclass) plus the instance __dict__
                    for (size_t i = 0; i < v->u.seq.n; i++)
                        if (!seq_push(p->pk, s, v->u.seq.items[i])) return push(p, NULL);
                } else {
                    t->u.obj.state = v;
                }
            }
            // BUILD on a dict (OrderedDict's _metadata attribute) or a tensor: the
            // state is an attribute, not content; ignore it.
            break;
        case 'Q':  // BINPERSID
        case 'P': { // PERSID (text)
            if (op == 'P') {
                const char *s;
                size_t len;
                if (!read_line(p, &s, &len)) goto trunc;
                return pk_fail(p, PC_ERR_UNSUPPORTED, "text persistent ids (protocol 0) are not supported");
            }
            if (!(v = pop(p))) return pk_fail(p, PC_ERR_FORMAT, "BINPERSID with an empty stack");
            // torch: ('storage', torch.<T>Storage, key, location, numel[, view_metadata])
            pc_pval **it = v->u.seq.items;
            int64_t numel;
            if (v->kind != PC_PK_TUPLE || v->u.seq.n < 5 || it[0]->kind != PC_PK_STR ||
                !str_eq(it[0]->u.str.s, it[0]->u.str.len, "storage") || it[1]->kind != PC_PK_GLOBAL ||
                it[2]->kind != PC_PK_STR || !as_int(it[4], &numel) || numel < 0)
                return pk_fail(p, PC_ERR_UNSUPPORTED,
                               "persistent id is not a torch storage ('storage', type, key, location, numel)");
            if (v->u.seq.n >= 6 && it[5]->kind != PC_PK_NONE)
                return pk_fail(p, PC_ERR_UNSUPPORTED, "legacy storage views (view_metadata) are not supported");
            pc_pval *s = pk_new(p, PC_PK_STORAGE);
            if (s) {
                const pc_pval *g = it[1];
                int torch_mod = str_eq(g->u.glob.mod, g->u.glob.mod_len, "torch") ||
                                str_eq(g->u.glob.mod, g->u.glob.mod_len, "torch.cuda");
                s->u.storage.dtype = torch_mod ? storage_dtype(g->u.glob.name, g->u.glob.name_len) : -1;
                s->u.storage.type_name = g->u.glob.name;
                s->u.storage.type_len = g->u.glob.name_len;
                s->u.storage.key = it[2]->u.str.s;
                s->u.storage.key_len = it[2]->u.str.len;
                s->u.storage.numel = numel;
                pc_pickle *pk = p->pk;
                if (pk->nstorages == pk->storages_cap) {
                    size_t nc = pk->storages_cap ? pk->storages_cap * 2 : 64;
                    pc_pval **a = (pc_pval **)realloc(pk->storages, nc * sizeof(pc_pval *));
                    if (!a) return pk_fail(p, PC_ERR_MEMORY, "out of memory");
                    pk->storages = a;
                    pk->storages_cap = nc;
                }
                pk->storages[pk->nstorages++] = s;
            }
            st = push(p, s);
            break;
        }
        case 'p': {  // PUT (text)
            const char *s;
            size_t len;
            int64_t key;
            if (!read_line(p, &s, &len)) goto trunc;
            if ((st = parse_decimal(p, s, len, &key)) != PC_OK) return st;
            if (key < 0) return pk_fail(p, PC_ERR_FORMAT, "negative memo key");
            st = memo_put(p, (uint64_t)key, top(p));
            break;
        }
        case 'q':  // BINPUT
            if (!need(p, 1)) goto trunc;
            st = memo_put(p, p->buf[p->pos++], top(p));
            break;
        case 'r':  // LONG_BINPUT
            if (!need(p, 4)) goto trunc;
            st = memo_put(p, pc_rd_u32le(p->buf + p->pos), top(p));
            p->pos += 4;
            break;
        case 0x94:  // MEMOIZE
            st = memo_put(p, p->memo_len, top(p));
            break;
        case 'g': {  // GET (text)
            const char *s;
            size_t len;
            int64_t key;
            if (!read_line(p, &s, &len)) goto trunc;
            if ((st = parse_decimal(p, s, len, &key)) != PC_OK) return st;
            if (key < 0) return pk_fail(p, PC_ERR_FORMAT, "negative memo key");
            st = memo_get(p, (uint64_t)key);
            break;
        }
        case 'h':  // BINGET
            if (!need(p, 1)) goto trunc;
            st = memo_get(p, p->buf[p->pos++]);
            break;
        case 'j':  // LONG_BINGET
            if (!need(p, 4)) goto trunc;
            st = memo_get(p, pc_rd_u32le(p->buf + p->pos));
            p->pos += 4;
            break;
        default:
            // includes EXT1/2/4, out-of-band buffers and the protocol-0 string opcodes
            return pc_err(p->err, PC_ERR_FORMAT, "file %s: pickle: unknown or unsupported opcode 0x%02x ('%c') at offset %zu",
                          p->label, op, op >= 0x20 && op < 0x7f ? op : '?', p->op_at);
        }
        if (st != PC_OK) return st;
    }
trunc:
    return pk_fail(p, PC_ERR_FORMAT, "truncated operand");
}

pc_status pc_pickle_load(pc_pickle **out, const uint8_t *buf, size_t n, size_t *used, const char *label,
                         pc_error *err) {
    *out = NULL;
    pc_pickle *pk = (pc_pickle *)calloc(1, sizeof(*pk));
    if (!pk) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    // Values cost at most a few hundred bytes per input byte; cap the arena so
    // hostile input cannot make us allocate without bound.
    pk->limit = n > ((size_t)1 << 32) ? (size_t)1 << 40 : n * 256 + ((size_t)64 << 20);
    pk_parser p;
    memset(&p, 0, sizeof(p));
    p.pk = pk;
    p.buf = buf;
    p.n = n;
    p.label = label ? label : "<memory>";
    p.err = err;
    p.memo_limit = n + 256;  // sequential memo keys never exceed the opcode count
    pc_status st = run(&p);
    free(p.stack);
    free(p.marks);
    free(p.memo);
    if (st != PC_OK) {
        pc_pickle_free(pk);
        return st;
    }
    if (used) *used = p.pos;
    *out = pk;
    return PC_OK;
}

pc_pval *pc_pk_dict_get(const pc_pval *d, const char *key) {
    if (!d || d->kind != PC_PK_DICT) return NULL;
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
        const pc_pval *k = d->u.seq.items[i];
        if (k->kind == PC_PK_STR && str_eq(k->u.str.s, k->u.str.len, key)) return d->u.seq.items[i + 1];
    }
    return NULL;
}

// ---- repr -------------------------------------------------------------------------

typedef struct {
    char *out;
    size_t n, k;
} rbuf;

static void rput(rbuf *r, const char *s, size_t len) {
    if (r->k + 1 >= r->n) return;
    size_t m = PC_MIN(len, r->n - 1 - r->k);
    memcpy(r->out + r->k, s, m);
    r->k += m;
    r->out[r->k] = 0;
}
static void rputs(rbuf *r, const char *s) { rput(r, s, strlen(s)); }

// Shortest decimal that reads back to the same double (like Python's repr).
static void fmt_double(char *b, size_t n, double d) {
    if (isnan(d)) {
        snprintf(b, n, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(b, n, d > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, n, "%.*g", prec, d);
        if (strtod(b, NULL) == d) break;
    }
    if (!strpbrk(b, ".eEn")) {
        size_t l = strlen(b);
        if (l + 2 < n) memcpy(b + l, ".0", 3);
    }
}

static void repr_rec(rbuf *r, const pc_pval *v, int depth, int quote) {
    char tmp[64];
    if (r->k + 1 >= r->n) return;
    if (depth > 8) {
        rputs(r, "...");
        return;
    }
    switch (v->kind) {
    case PC_PK_NONE: rputs(r, "None"); break;
    case PC_PK_BOOL: rputs(r, v->u.i ? "True" : "False"); break;
    case PC_PK_INT:
        snprintf(tmp, sizeof(tmp), "%lld", (long long)v->u.i);
        rputs(r, tmp);
        break;
    case PC_PK_BIGINT: rputs(r, "<big int>"); break;
    case PC_PK_FLOAT:
        fmt_double(tmp, sizeof(tmp), v->u.f);
        rputs(r, tmp);
        break;
    case PC_PK_STR:
        if (quote) rputs(r, "'");
        rput(r, v->u.str.s, v->u.str.len);
        if (quote) rputs(r, "'");
        break;
    case PC_PK_BYTES:
        snprintf(tmp, sizeof(tmp), "<%zu bytes>", v->u.str.len);
        rputs(r, tmp);
        break;
    case PC_PK_TUPLE:
    case PC_PK_LIST:
        rputs(r, v->kind == PC_PK_TUPLE ? "(" : "[");
        for (size_t i = 0; i < v->u.seq.n && r->k + 1 < r->n; i++) {
            if (i) rputs(r, ", ");
            repr_rec(r, v->u.seq.items[i], depth + 1, 1);
        }
        if (v->kind == PC_PK_TUPLE && v->u.seq.n == 1) rputs(r, ",");
        rputs(r, v->kind == PC_PK_TUPLE ? ")" : "]");
        break;
    case PC_PK_DICT:
        rputs(r, "{");
        for (size_t i = 0; i + 1 < v->u.seq.n && r->k + 1 < r->n; i += 2) {
            if (i) rputs(r, ", ");
            repr_rec(r, v->u.seq.items[i], depth + 1, 1);
            rputs(r, ": ");
            repr_rec(r, v->u.seq.items[i + 1], depth + 1, 1);
        }
        rputs(r, "}");
        break;
    case PC_PK_GLOBAL:
        rput(r, v->u.glob.mod, v->u.glob.mod_len);
        rputs(r, ".");
        rput(r, v->u.glob.name, v->u.glob.name_len);
        break;
    case PC_PK_OBJECT:
        rputs(r, "<");
        if (v->u.obj.cls) repr_rec(r, v->u.obj.cls, depth + 1, 0);
        if (v->u.obj.args && v->u.obj.args->kind == PC_PK_TUPLE && v->u.obj.args->u.seq.n) {
            repr_rec(r, v->u.obj.args, depth + 1, 1);
        }
        rputs(r, " object>");
        break;
    case PC_PK_STORAGE:
        rputs(r, "<storage ");
        rput(r, v->u.storage.type_name, v->u.storage.type_len);
        rputs(r, ">");
        break;
    case PC_PK_TENSOR: {
        const pc_pk_tensor *t = v->u.tensor;
        rputs(r, "<tensor ");
        rput(r, t->storage->u.storage.type_name, t->storage->u.storage.type_len);
        rputs(r, " (");
        for (int i = 0; i < t->ndim; i++) {
            snprintf(tmp, sizeof(tmp), "%s%lld", i ? ", " : "", (long long)t->size[i]);
            rputs(r, tmp);
        }
        rputs(r, ")>");
        break;
    }
    case PC_PK_MARK: rputs(r, "<mark>"); break;
    }
}

void pc_pk_repr(const pc_pval *v, char *out, size_t n) {
    if (!n) return;
    out[0] = 0;
    rbuf r = {out, n, 0};
    repr_rec(&r, v, 0, 0);
    if (r.k + 1 >= n && n > 4) memcpy(out + n - 4, "...", 4);
}

// ---- torch.save layer ----------------------------------------------------------------

typedef struct {
    pc_checkpoint *ck;
    pc_storage_resolver resolve;
    void *rctx;
    pc_error *err;
    const pc_pval *sd;  // the state dict
    char path[4096];
    size_t nmeta;
} collect_ctx;

#define PC_TORCH_META_MAX 10000

static pc_status add_tensor(collect_ctx *c, const char *name, size_t name_len, const pc_pk_tensor *pt) {
    const char *label = pc_ckpt_label(c->ck);
    const pc_pval *s = pt->storage;
    if (s->u.storage.dtype < 0)
        return pc_err(c->err, PC_ERR_UNSUPPORTED, "file %s: tensor '%.*s' uses unsupported storage type %.*s", label,
                      (int)name_len, name, (int)s->u.storage.type_len, s->u.storage.type_name);
    pc_dtype dt = (pc_dtype)s->u.storage.dtype;
    size_t es = pc_dtype_size(dt);
    const uint8_t *data;
    size_t size;
    pc_status st = c->resolve(c->rctx, s->u.storage.key, s->u.storage.key_len, &data, &size, c->err);
    if (st != PC_OK) {
        // "file X: <what>" -> "file X: tensor 'name': <what>"
        char msg[sizeof(c->err->msg)] = "";
        if (c->err) {
            size_t ll = strlen(label);
            const char *m = c->err->msg;
            if (!strncmp(m, "file ", 5) && !strncmp(m + 5, label, ll) && !strncmp(m + 5 + ll, ": ", 2)) m += 7 + ll;
            snprintf(msg, sizeof(msg), "%s", m);
        }
        return pc_err(c->err, st, "file %s: tensor '%.*s': %s", label, (int)PC_MIN(name_len, 200), name, msg);
    }
    uint64_t numel_st = (uint64_t)s->u.storage.numel;
    if (numel_st > size / es)
        return pc_err(c->err, PC_ERR_FORMAT,
                      "file %s: tensor '%.*s': storage '%.*s' holds %zu bytes but is declared as %llu elements of %s",
                      label, (int)name_len, name, (int)s->u.storage.key_len, s->u.storage.key, size,
                      (unsigned long long)numel_st, pc_dtype_name(dt));
    // extent: offset + sum((size-1)*stride) must lie inside the storage
    uint64_t nonzero = 1, last = (uint64_t)pt->offset;
    int empty = 0, overflow = 0;
    for (int i = 0; i < pt->ndim; i++) {
        uint64_t sz = (uint64_t)pt->size[i], sd = (uint64_t)pt->stride[i];
        if (sz == 0) empty = 1;
        // product of the non-zero sizes stays <= 2^62 so that no consumer's
        // shape arithmetic can overflow, even for an empty tensor
        if (sz && nonzero > ((uint64_t)1 << 62) / sz) overflow = 1;
        if (sz) nonzero *= sz;
        if (sz > 1) {
            if (sd && (sz - 1) > (UINT64_MAX / 4) / sd) overflow = 1;
            else last += (sz - 1) * sd;
            if (last > UINT64_MAX / 4) overflow = 1;
        }
    }
    if (overflow || (!empty && last >= numel_st) || (empty && (uint64_t)pt->offset > numel_st))
        return pc_err(c->err, PC_ERR_FORMAT,
                      "file %s: tensor '%.*s': offset %lld with its sizes and strides reaches past its storage of %llu "
                      "elements",
                      label, (int)name_len, name, (long long)pt->offset, (unsigned long long)numel_st);
    pc_tensor t;
    memset(&t, 0, sizeof(t));
    t.dtype = dt;
    t.ndim = pt->ndim;
    for (int i = 0; i < pt->ndim; i++) {
        t.shape[i] = pt->size[i];
        t.strides[i] = pt->stride[i];
    }
    const uint8_t *p = data + (size_t)pt->offset * es;
    if (!empty && ((uintptr_t)p % es) != 0) {
        // misaligned (not produced by torch, which aligns entries to 64): copy the extent
        size_t bytes = (size_t)(last - (uint64_t)pt->offset + 1) * es;
        void *cp = pc_aligned_alloc(bytes);
        if (!cp) return pc_err(c->err, PC_ERR_MEMORY, "out of memory copying tensor '%.*s'", (int)name_len, name);
        memcpy(cp, p, bytes);
        if ((st = pc_ckpt_own(c->ck, cp, c->err)) != PC_OK) return st;
        p = (const uint8_t *)cp;
    }
    t.data = (void *)p;
    return pc_ckpt_add_tensor(c->ck, name, name_len, &t, c->err);
}

// Walk the object tree. path holds the dotted key path of v (len bytes);
// sd_at >= 0 when inside the state dict: the tensor name starts at path + sd_at.
static pc_status walk(collect_ctx *c, const pc_pval *v, size_t len, long sd_at, int depth) {
    if (depth > PK_MAX_WALK_DEPTH) return PC_OK;  // cycles through the memo end here
    if (v == c->sd && sd_at < 0) sd_at = (long)(len ? len + 1 : 0);
    if (v->kind == PC_PK_TENSOR) {
        if (sd_at < 0) return PC_OK;  // tensors outside the state dict (optimizer state) are not exposed
        size_t off = PC_MIN((size_t)sd_at, len);
        return add_tensor(c, c->path + off, len - off, v->u.tensor);
    }
    const pc_pval *d = NULL, *d2 = NULL;
    if (v->kind == PC_PK_DICT) d = v;
    if (v->kind == PC_PK_OBJECT) {
        const pc_pval *s = v->u.obj.state;
        if (s && s->kind == PC_PK_DICT) d = s;
        if (s && s->kind == PC_PK_TUPLE && s->u.seq.n == 2) {  // (__dict__, __slots__ state)
            if (s->u.seq.items[0]->kind == PC_PK_DICT) d = s->u.seq.items[0];
            if (s->u.seq.items[1]->kind == PC_PK_DICT) d2 = s->u.seq.items[1];
        }
    }
    if (d || d2) {
        for (int which = 0; which < 2; which++) {
            const pc_pval *dd = which ? d2 : d;
            if (!dd) continue;
            for (size_t i = 0; i + 1 < dd->u.seq.n; i += 2) {
                const pc_pval *k = dd->u.seq.items[i];
                char kb[32];
                const char *ks;
                size_t kl;
                if (k->kind == PC_PK_STR) {
                    ks = k->u.str.s;
                    kl = k->u.str.len;
                } else if (k->kind == PC_PK_INT) {
                    kl = (size_t)snprintf(kb, sizeof(kb), "%lld", (long long)k->u.i);
                    ks = kb;
                } else {
                    continue;  // non-string keys have no dotted name
                }
                size_t nl = len + (len ? 1 : 0) + kl;
                if (nl >= sizeof(c->path))
                    return pc_err(c->err, PC_ERR_FORMAT, "file %s: key path longer than %zu bytes",
                                  pc_ckpt_label(c->ck), sizeof(c->path));
                if (len) c->path[len] = '.';
                memcpy(c->path + len + (len ? 1 : 0), ks, kl);
                c->path[nl] = 0;
                pc_status st = walk(c, dd->u.seq.items[i + 1], nl, sd_at, depth + 1);
                if (st != PC_OK) return st;
                c->path[len] = 0;
            }
        }
        return PC_OK;
    }
    if (v->kind == PC_PK_STORAGE) return PC_OK;
    // a scalar, string, list, ... : one metadata entry with its repr
    if (c->nmeta >= PC_TORCH_META_MAX || len == 0) return PC_OK;
    char val[4096];
    pc_pk_repr(v, val, sizeof(val));
    c->nmeta++;
    return pc_ckpt_add_meta(c->ck, c->path, len, val, strlen(val), c->err);
}

pc_status pc_torch_collect(pc_checkpoint *ck, const pc_pval *root, pc_storage_resolver resolve, void *ctx,
                           pc_error *err) {
    if (root->kind != PC_PK_DICT) {
        char r[200];
        pc_pk_repr(root, r, sizeof(r));
        return pc_err(err, PC_ERR_UNSUPPORTED,
                      "file %s: top-level object is %s, not a dict (save a state_dict, not a whole module)",
                      pc_ckpt_label(ck), r);
    }
    collect_ctx c;
    memset(&c, 0, sizeof(c));
    c.ck = ck;
    c.resolve = resolve;
    c.rctx = ctx;
    c.err = err;
    const pc_pval *sd = pc_pk_dict_get(root, "state_dict");
    if (!sd || sd->kind != PC_PK_DICT) sd = pc_pk_dict_get(root, "model");
    if (!sd || sd->kind != PC_PK_DICT) sd = root;
    c.sd = sd;
    return walk(&c, root, 0, -1, 0);
}

// ---- torch zip archives (torch.save since 1.6) ---------------------------------------

typedef struct {
    pc_zip *z;
    const char *label;
    const char *prefix;  // "<stem>/"
    size_t plen;
} zip_res;

static pc_status zip_resolve(void *ctx, const char *key, size_t key_len, const uint8_t **data, size_t *size,
                             pc_error *err) {
    zip_res *r = (zip_res *)ctx;
    char name[4096];
    if (r->plen + 5 + key_len >= sizeof(name))
        return pc_err(err, PC_ERR_FORMAT, "file %s: storage key too long", r->label);
    memcpy(name, r->prefix, r->plen);
    memcpy(name + r->plen, "data/", 5);
    memcpy(name + r->plen + 5, key, key_len);
    size_t nl = r->plen + 5 + key_len;
    long i = pc_zip_find(r->z, name, nl);
    if (i < 0)
        return pc_err(err, PC_ERR_FORMAT, "file %s: storage entry '%.*s' is missing from the archive", r->label,
                      (int)PC_MIN(nl, 300), name);
    return pc_zip_data(r->z, (size_t)i, data, size, err);
}

pc_status pc_torchzip_parse(pc_checkpoint *ck, const uint8_t *buf, size_t n, int fd, pc_zip **zip_out,
                            pc_error *err) {
    const char *label = pc_ckpt_label(ck);
    pc_zip *z;
    pc_status st = pc_zip_open_fd(&z, buf, n, fd, label, err);
    if (st != PC_OK) return st;
    *zip_out = z;  // closed with the checkpoint (it owns inflated entries)
    // "<stem>/data.pkl" where <stem> has no '/'
    long pkl = -1;
    size_t plen = 0;
    for (size_t i = 0; i < pc_zip_count(z); i++) {
        size_t len;
        const char *nm = pc_zip_name(z, i, &len);
        if (len >= 9 && !memcmp(nm + len - 9, "/data.pkl", 9) && !memchr(nm, '/', len - 9)) {
            pkl = (long)i;
            plen = len - 8;
            break;
        }
    }
    if (pkl < 0)
        return pc_err(err, PC_ERR_FORMAT, "file %s: zip archive has no <name>/data.pkl entry (not a torch checkpoint)",
                      label);
    const char *prefix = pc_zip_name(z, (size_t)pkl, NULL);
    char bo[512];
    if (plen + 9 < sizeof(bo)) {
        memcpy(bo, prefix, plen);
        memcpy(bo + plen, "byteorder", 9);
        long b = pc_zip_find(z, bo, plen + 9);
        const uint8_t *d;
        size_t ds;
        if (b >= 0) {
            if ((st = pc_zip_data(z, (size_t)b, &d, &ds, err)) != PC_OK) return st;
            if (!(ds == 6 && !memcmp(d, "little", 6)))
                return pc_err(err, PC_ERR_UNSUPPORTED, "file %s: big-endian torch checkpoints are not supported",
                              label);
        }
    }
    const uint8_t *pd;
    size_t ps;
    if ((st = pc_zip_data(z, (size_t)pkl, &pd, &ps, err)) != PC_OK) return st;
    pc_pickle *pk;
    if ((st = pc_pickle_load(&pk, pd, ps, NULL, label, err)) != PC_OK) return st;
    zip_res r = {z, label, prefix, plen};
    st = pc_torch_collect(ck, pc_pickle_root(pk), zip_resolve, &r, err);
    pc_pickle_free(pk);
    return st;
}

// ---- legacy torch.save (before 1.6) ---------------------------------------------------
// Five pickles back to back: magic number, protocol version, sys info, the
// object (storages as persistent ids), the list of storage keys; then each
// storage in that order as an int64 element count and the raw elements.

typedef struct {
    const char *key;
    size_t key_len;
    const uint8_t *data;
    size_t size;
} legacy_storage;

typedef struct {
    legacy_storage *s;
    size_t n;
    const char *label;
} legacy_res;

static pc_status legacy_resolve(void *ctx, const char *key, size_t key_len, const uint8_t **data, size_t *size,
                                pc_error *err) {
    legacy_res *r = (legacy_res *)ctx;
    for (size_t i = 0; i < r->n; i++)
        if (r->s[i].key_len == key_len && !memcmp(r->s[i].key, key, key_len)) {
            *data = r->s[i].data;
            *size = r->s[i].size;
            return PC_OK;
        }
    return pc_err(err, PC_ERR_FORMAT, "file %s: storage '%.*s' is not in the storage list", r->label,
                  (int)PC_MIN(key_len, 200), key);
}

pc_status pc_torchlegacy_parse(pc_checkpoint *ck, const uint8_t *buf, size_t n, pc_error *err) {
    const char *label = pc_ckpt_label(ck);
    size_t pos = 0, used;
    pc_pickle *pk[5] = {0};
    pc_status st = PC_OK;
    legacy_storage *ls = NULL;
    for (int i = 0; i < 5; i++) {
        if ((st = pc_pickle_load(&pk[i], buf + pos, n - pos, &used, label, err)) != PC_OK) {
            pc_err_prefix(err, st, "legacy torch file, pickle %d: ", i + 1);
            goto done;
        }
        pos += used;
    }
    const pc_pval *proto = pc_pickle_root(pk[1]), *keys = pc_pickle_root(pk[4]);
    if (proto->kind != PC_PK_INT || proto->u.i != 1001) {
        st = pc_err(err, PC_ERR_UNSUPPORTED, "file %s: legacy torch protocol version is not 1001", label);
        goto done;
    }
    if (keys->kind != PC_PK_LIST) {
        st = pc_err(err, PC_ERR_FORMAT, "file %s: legacy torch storage key list is not a list", label);
        goto done;
    }
    size_t nk = keys->u.seq.n;
    ls = (legacy_storage *)calloc(nk ? nk : 1, sizeof(legacy_storage));
    if (!ls) {
        st = pc_err(err, PC_ERR_MEMORY, "out of memory");
        goto done;
    }
    const pc_pickle *obj = pk[3];
    for (size_t i = 0; i < nk; i++) {
        const pc_pval *k = keys->u.seq.items[i];
        if (k->kind != PC_PK_STR) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: legacy storage key %zu is not a string", label, i);
            goto done;
        }
        int dt = -2;  // element size from the storage type seen in the object pickle
        for (size_t j = 0; j < obj->nstorages; j++) {
            const pc_pval *s = obj->storages[j];
            if (s->u.storage.key_len == k->u.str.len && !memcmp(s->u.storage.key, k->u.str.s, k->u.str.len)) {
                dt = s->u.storage.dtype;
                break;
            }
        }
        if (dt == -2) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: legacy storage '%.*s' is never referenced", label,
                        (int)PC_MIN(k->u.str.len, 200), k->u.str.s);
            goto done;
        }
        if (dt < 0) {
            st = pc_err(err, PC_ERR_UNSUPPORTED, "file %s: legacy storage '%.*s' has an unsupported type", label,
                        (int)PC_MIN(k->u.str.len, 200), k->u.str.s);
            goto done;
        }
        if (n - pos < 8) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: truncated legacy storage %zu", label, i);
            goto done;
        }
        uint64_t cnt = pc_rd_u64le(buf + pos), es = pc_dtype_size((pc_dtype)dt);
        pos += 8;
        if (cnt > (n - pos) / es) {
            st = pc_err(err, PC_ERR_FORMAT, "file %s: legacy storage '%.*s' declares %llu elements, past the end of the "
                        "file", label, (int)PC_MIN(k->u.str.len, 200), k->u.str.s, (unsigned long long)cnt);
            goto done;
        }
        ls[i].key = k->u.str.s;
        ls[i].key_len = k->u.str.len;
        ls[i].data = buf + pos;
        ls[i].size = (size_t)(cnt * es);
        pos += (size_t)(cnt * es);
    }
    legacy_res r = {ls, nk, label};
    st = pc_torch_collect(ck, pc_pickle_root(obj), legacy_resolve, &r, err);
done:
    free(ls);
    for (int i = 0; i < 5; i++) pc_pickle_free(pk[i]);
    return st;
}
