// CLIP byte-level BPE tokenizer (open_clip v2.22 tokenizer.py: SimpleTokenizer + tokenize(); the
// same algorithm as OpenAI CLIP's simple_tokenizer.py).
//
// Pipeline, in upstream order:
//   basic_clean: ftfy.fix_text -> html.unescape twice -> strip;  whitespace_clean: \s+ -> ' ', strip;
//   lower();  regex findall of
//     <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//   each piece -> UTF-8 bytes -> bytes_to_unicode symbols -> BPE by merge rank -> ids.
//   tokenize(): [SOT] + ids + [EOT], cut to context_length with the last forced to EOT, zero-padded.
//
// What is emulated exactly and what approximately (the goldens and every ASCII prompt are exact):
//   - ftfy.fix_text: only the parts that change ordinary text: curly quotes -> ' and " (uncurl_quotes),
//     fullwidth forms U+FF01..FF5E -> ASCII and U+3000 -> space (fix_character_width; halfwidth kana
//     are not widened), Latin ligatures -> letters (fix_latin_ligatures), control characters removed
//     (remove_control_chars). Mojibake repair (fix_encoding), ftfy's own HTML unescape and NFC
//     normalisation are NOT done: decomposed accents stay decomposed.
//   - html.unescape: &amp; &lt; &gt; &quot; &apos; &nbsp; (the first four also without ';') and
//     numeric &#N; / &#xH; references; other named entities are left as they are.
//   - \p{L}, \p{N}, \s and lower(): Unicode 14 tables generated from Python 3.11's unicodedata
//     (clip_unicode.h; upstream's `regex` module may carry a slightly newer Unicode version).
//     Invalid UTF-8 bytes become U+FFFD (Python would have refused to decode them).
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/common.h"
#include "models/clip_unicode.h"
#include "posecrafter/clip.h"

#define N_MERGES (49152 - 256 - 2)  // merges[1 : 49152 - 256 - 2 + 1]
#define MAX_TEXT_BYTES (1 << 16)

// ---- string -> id hash (open addressing) ------------------------------------------------------

typedef struct str_map {
    uint32_t cap;        // power of two
    int32_t *slot_id;    // -1 = empty
    uint32_t *slot_off;  // offset of the key in pool
} str_map;

typedef struct pair_entry {
    uint64_t key;  // (a << 32) | b, canonical ids; 0xFFFF.. = empty
    int32_t rank, merged;
} pair_entry;

struct pc_clip_tokenizer {
    char *pool;          // NUL-terminated symbol strings (UTF-8)
    size_t pool_len, pool_cap;
    uint32_t *sym_off;   // (n_vocab) offset of each vocab string
    int32_t n_vocab;
    str_map vocab;       // string -> id (last occurrence wins, as dict(zip(vocab, range)))
    pair_entry *pairs;   // merge (a, b) -> rank, merged id
    uint32_t pair_cap;
    int32_t byte_id[256];  // byte -> id of its symbol (no </w>); + 256 for the </w> variant
};

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int32_t map_find(const pc_clip_tokenizer *t, const char *s, size_t n) {
    uint32_t m = t->vocab.cap - 1, i = (uint32_t)hash_bytes(s, n) & m;
    while (t->vocab.slot_id[i] >= 0) {
        const char *k = t->pool + t->vocab.slot_off[i];
        if (strlen(k) == n && !memcmp(k, s, n)) return t->vocab.slot_id[i];
        i = (i + 1) & m;
    }
    return -1;
}

static void map_put(pc_clip_tokenizer *t, uint32_t off, int32_t id) {
    const char *s = t->pool + off;
    size_t n = strlen(s);
    uint32_t m = t->vocab.cap - 1, i = (uint32_t)hash_bytes(s, n) & m;
    while (t->vocab.slot_id[i] >= 0) {
        const char *k = t->pool + t->vocab.slot_off[i];
        if (!strcmp(k, s)) {  // duplicate string: the later index wins
            t->vocab.slot_id[i] = id;
            return;
        }
        i = (i + 1) & m;
    }
    t->vocab.slot_id[i] = id;
    t->vocab.slot_off[i] = off;
}

static const pair_entry *pair_find(const pc_clip_tokenizer *t, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t m = t->pair_cap - 1, i = (uint32_t)hash_u64(key) & m;
    while (t->pairs[i].key != UINT64_MAX) {
        if (t->pairs[i].key == key) return &t->pairs[i];
        i = (i + 1) & m;
    }
    return NULL;
}

static void pair_put(pc_clip_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t m = t->pair_cap - 1, i = (uint32_t)hash_u64(key) & m;
    while (t->pairs[i].key != UINT64_MAX && t->pairs[i].key != key) i = (i + 1) & m;
    t->pairs[i].key = key;  // a repeated pair keeps the later rank (dict(zip(merges, range)))
    t->pairs[i].rank = rank;
    t->pairs[i].merged = merged;
}

// Append a string to the pool; returns its offset or UINT32_MAX when out of memory.
static uint32_t pool_add(pc_clip_tokenizer *t, const char *s, size_t n) {
    if (t->pool_len + n + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap * 2 : 1 << 20;
        while (cap < t->pool_len + n + 1) cap *= 2;
        char *p = (char *)realloc(t->pool, cap);
        if (!p) return UINT32_MAX;
        t->pool = p;
        t->pool_cap = cap;
    }
    memcpy(t->pool + t->pool_len, s, n);
    t->pool[t->pool_len + n] = 0;
    uint32_t off = (uint32_t)t->pool_len;
    t->pool_len += n + 1;
    return off;
}

static int utf8_put(char *out, uint32_t cp) {
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

// bytes_to_unicode(): printable Latin-1 bytes map to themselves, the rest to 256 + n in byte order.
// The vocab starts with the symbols in the order of `bs` (printable ranges first, then the others).
static void bytes_to_unicode(uint32_t cs[256], int order[256]) {
    int n_bs = 0, is_bs[256] = {0};
    for (int b = '!'; b <= '~'; b++) is_bs[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) is_bs[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) is_bs[b] = 1;
    for (int b = 0; b < 256; b++)
        if (is_bs[b]) {
            order[n_bs++] = b;
            cs[b] = (uint32_t)b;
        }
    int n = 0;
    for (int b = 0; b < 256; b++)
        if (!is_bs[b]) {
            order[n_bs++] = b;
            cs[b] = 256u + (uint32_t)n++;
        }
}

static char *read_gz(const char *path, size_t *len, pc_error *err, pc_status *st) {
    gzFile f = gzopen(path, "rb");
    if (!f) {
        *st = pc_err(err, PC_ERR_IO, "CLIP tokenizer: cannot open '%s'", path);
        return NULL;
    }
    size_t cap = 4 << 20, n = 0;
    char *buf = (char *)malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            if (cap >= ((size_t)64 << 20)) {  // the real file is 1.6 MB inflated
                free(buf);
                gzclose(f);
                *st = pc_err(err, PC_ERR_FORMAT, "CLIP tokenizer: '%s' inflates to more than 64 MiB", path);
                return NULL;
            }
            char *p = (char *)realloc(buf, cap * 2 + 1);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        if (r < 0) {
            free(buf);
            gzclose(f);
            *st = pc_err(err, PC_ERR_FORMAT, "CLIP tokenizer: '%s' is not a valid gzip file", path);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    if (!buf) {
        *st = pc_err(err, PC_ERR_MEMORY, "CLIP tokenizer: out of memory reading '%s'", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

void pc_clip_tokenizer_free(pc_clip_tokenizer *t) {
    if (!t) return;
    free(t->pool);
    free(t->sym_off);
    free(t->vocab.slot_id);
    free(t->vocab.slot_off);
    free(t->pairs);
    free(t);
}

pc_status pc_clip_tokenizer_load(pc_clip_tokenizer **out, const char *path, pc_error *err) {
    if (!out || !path) return pc_err(err, PC_ERR_ARG, "pc_clip_tokenizer_load: NULL argument");
    *out = NULL;
    pc_status st = PC_OK;
    size_t len = 0;
    char *txt = read_gz(path, &len, err, &st);
    if (!txt) return st;
    pc_clip_tokenizer *t = (pc_clip_tokenizer *)calloc(1, sizeof(*t));
    int32_t n_total = 512 + N_MERGES + 2;
    if (t) {
        t->sym_off = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)n_total);
        t->vocab.cap = 1u << 17;
        t->vocab.slot_id = (int32_t *)malloc(sizeof(int32_t) * t->vocab.cap);
        t->vocab.slot_off = (uint32_t *)malloc(sizeof(uint32_t) * t->vocab.cap);
        t->pair_cap = 1u << 17;
        t->pairs = (pair_entry *)malloc(sizeof(pair_entry) * t->pair_cap);
    }
    if (!t || !t->sym_off || !t->vocab.slot_id || !t->vocab.slot_off || !t->pairs) {
        free(txt);
        pc_clip_tokenizer_free(t);
        return pc_err(err, PC_ERR_MEMORY, "CLIP tokenizer: out of memory");
    }
    for (uint32_t i = 0; i < t->vocab.cap; i++) t->vocab.slot_id[i] = -1;
    for (uint32_t i = 0; i < t->pair_cap; i++) t->pairs[i].key = UINT64_MAX;

    // vocab: 256 byte symbols (in `bs` order), their </w> variants, merges, specials
    uint32_t cs[256];
    int order[256];
    bytes_to_unicode(cs, order);
    char sbuf[512];
    int32_t id = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 256; i++) {
            int n = utf8_put(sbuf, cs[order[i]]);
            if (pass) {
                memcpy(sbuf + n, "</w>", 4);
                n += 4;
            }
            uint32_t off = pool_add(t, sbuf, (size_t)n);
            if (off == UINT32_MAX) goto oom;
            t->sym_off[id] = off;
            map_put(t, off, id);
            if (!pass) t->byte_id[order[i]] = id;
            id++;
        }

    // merges: lines 1 .. N_MERGES (line 0 is the "#version" header)
    char *p = txt, *end = txt + len;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) {
        free(txt);
        pc_clip_tokenizer_free(t);
        return pc_err(err, PC_ERR_FORMAT, "CLIP tokenizer: '%s' has no merge lines", path);
    }
    p = nl + 1;
    // First pass: register the merged strings (ids 512 ..); second pass: the pair table.
    char *merges_begin = p;
    for (int pass = 0; pass < 2; pass++) {
        p = merges_begin;
        for (int32_t r = 0; r < N_MERGES; r++) {
            if (p >= end) {
                free(txt);
                pc_clip_tokenizer_free(t);
                return pc_err(err, PC_ERR_FORMAT, "CLIP tokenizer: '%s' has %d merge lines, expected at least %d", path,
                              (int)r, N_MERGES);
            }
            char *e = memchr(p, '\n', (size_t)(end - p));
            if (!e) e = end;
            char *next = e < end ? e + 1 : end;
            if (e > p && e[-1] == '\r') e--;  // tolerate CRLF line ends
            char *sp = memchr(p, ' ', (size_t)(e - p));
            size_t la = sp ? (size_t)(sp - p) : 0, lb = sp ? (size_t)(e - sp - 1) : 0;
            if (!sp || la == 0 || lb == 0 || memchr(sp + 1, ' ', lb) || la + lb >= sizeof(sbuf)) {
                free(txt);
                pc_clip_tokenizer_free(t);
                return pc_err(err, PC_ERR_FORMAT, "CLIP tokenizer: '%s' merge line %d is not 'a b'", path, (int)r + 2);
            }
            if (pass == 0) {
                memcpy(sbuf, p, la);
                memcpy(sbuf + la, sp + 1, lb);
                uint32_t off = pool_add(t, sbuf, la + lb);
                if (off == UINT32_MAX) goto oom;
                t->sym_off[512 + r] = off;
                map_put(t, off, 512 + r);
            } else {
                int32_t a = map_find(t, p, la), b = map_find(t, sp + 1, lb);
                // parts missing from the vocab never occur in a word: such merges cannot fire
                if (a >= 0 && b >= 0) {
                    int32_t merged = map_find(t, t->pool + t->sym_off[512 + r], la + lb);
                    pair_put(t, a, b, r, merged);
                }
            }
            p = next;
        }
    }
    {
        uint32_t off = pool_add(t, "<start_of_text>", 15);
        if (off == UINT32_MAX) goto oom;
        t->sym_off[PC_CLIP_SOT] = off;
        map_put(t, off, PC_CLIP_SOT);
        off = pool_add(t, "<end_of_text>", 13);
        if (off == UINT32_MAX) goto oom;
        t->sym_off[PC_CLIP_EOT] = off;
        map_put(t, off, PC_CLIP_EOT);
    }
    t->n_vocab = n_total;
    free(txt);
    *out = t;
    return PC_OK;
oom:
    free(txt);
    pc_clip_tokenizer_free(t);
    return pc_err(err, PC_ERR_MEMORY, "CLIP tokenizer: out of memory");
}

// ---- text cleanup and character classes ----------------------------------------------------------

static int is_space(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Binary search in sorted [lo, hi] ranges.
static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

static int is_number(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    return in_ranges(CLIP_UNI_NUMBER, sizeof(CLIP_UNI_NUMBER) / sizeof(CLIP_UNI_NUMBER[0]), c);
}

static int is_letter(uint32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return in_ranges(CLIP_UNI_LETTER, sizeof(CLIP_UNI_LETTER) / sizeof(CLIP_UNI_LETTER[0]), c);
}

// str.lower() for the one-to-one mappings; U+0130 (one-to-many) is handled by the caller.
static uint32_t to_lower(uint32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    size_t lo = 0, hi = sizeof(CLIP_UNI_LOWER) / sizeof(CLIP_UNI_LOWER[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const int32_t *r = CLIP_UNI_LOWER[mid];
        if (c < (uint32_t)r[0]) hi = mid;
        else if (c > (uint32_t)r[1]) lo = mid + 1;
        else return ((c - (uint32_t)r[0]) % (uint32_t)r[2]) ? c : (uint32_t)((int32_t)c + r[3]);
    }
    return c;
}

// UTF-8 -> code points; invalid sequences become U+FFFD (one per bad byte).
static size_t utf8_decode(uint32_t *out, const uint8_t *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint8_t b = s[i];
        uint32_t cp = 0xFFFD;
        size_t len = 1;
        if (b < 0x80) {
            cp = b;
        } else {
            size_t need = (b >= 0xC2 && b <= 0xDF) ? 2 : (b >= 0xE0 && b <= 0xEF) ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 0;
            if (need && i + need <= n) {
                uint32_t v = b & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
                size_t j = 1;
                for (; j < need && (s[i + j] & 0xC0) == 0x80; j++) v = (v << 6) | (s[i + j] & 0x3F);
                int overlong = (need == 3 && v < 0x800) || (need == 4 && v < 0x10000);
                if (j == need && !overlong && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) {
                    cp = v;
                    len = need;
                }
            }
        }
        out[k++] = cp;
        i += len;
    }
    return k;
}

// ftfy subset (see the file comment); the output grows only through ligatures (cap checked).
static size_t fix_text(uint32_t *out, const uint32_t *in, size_t n, size_t cap) {
    // ftfy chardata.LIGATURES: NFKC of the Latin ligatures
    static const struct { uint32_t cp, a, b, c; } lig[] = {
        {0x132, 'I', 'J', 0}, {0x133, 'i', 'j', 0}, {0x149, 0x2BC, 'n', 0}, {0x1C5, 'D', 0x17E, 0},
        {0x1C6, 'd', 0x17E, 0}, {0x1C7, 'L', 'J', 0}, {0x1C8, 'L', 'j', 0}, {0x1C9, 'l', 'j', 0},
        {0x1CA, 'N', 'J', 0}, {0x1CB, 'N', 'j', 0}, {0x1CC, 'n', 'j', 0}, {0x1F1, 'D', 'Z', 0},
        {0x1F2, 'D', 'z', 0}, {0x1F3, 'd', 'z', 0}, {0xFB00, 'f', 'f', 0}, {0xFB01, 'f', 'i', 0},
        {0xFB02, 'f', 'l', 0}, {0xFB03, 'f', 'f', 'i'}, {0xFB04, 'f', 'f', 'l'}, {0xFB05, 's', 't', 0},
        {0xFB06, 's', 't', 0}};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        // remove_control_chars (tab, LF, FF, CR stay)
        if ((c < 0x20 && c != 9 && c != 10 && c != 12 && c != 13) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
            (c >= 0xFFF9 && c <= 0xFFFC) || c == 0xFEFF || (c >= 0xE0000 && c <= 0xE007F))
            continue;
        int done = 0;
        for (size_t q = 0; q < sizeof(lig) / sizeof(lig[0]) && !done; q++) {
            if (lig[q].cp != c) continue;
            uint32_t parts[3] = {lig[q].a, lig[q].b, lig[q].c};
            for (int p = 0; p < 3 && parts[p] && k < cap; p++) out[k++] = parts[p];
            done = 1;
        }
        if (done) continue;
        if (c == 0x2018 || c == 0x2019 || c == 0x201A || c == 0x201B) c = '\'';    // uncurl_quotes
        else if (c == 0x201C || c == 0x201D || c == 0x201E || c == 0x201F) c = '"';
        else if (c >= 0xFF01 && c <= 0xFF5E) c -= 0xFEE0;                          // fix_character_width
        else if (c == 0x3000) c = ' ';
        if (k < cap) out[k++] = c;
    }
    return k;
}

// html.unescape subset (see the file comment); output never longer than input.
static size_t html_unescape(uint32_t *out, const uint32_t *in, size_t n) {
    static const struct { const char *name; uint32_t cp; int semi_optional; } ent[] = {
        {"amp", '&', 1}, {"lt", '<', 1}, {"gt", '>', 1}, {"quot", '"', 1}, {"apos", '\'', 0}, {"nbsp", 0xA0, 1}};
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] != '&') {
            out[k++] = in[i++];
            continue;
        }
        size_t j = i + 1;
        if (j < n && in[j] == '#') {  // numeric
            int hex = j + 1 < n && (in[j + 1] == 'x' || in[j + 1] == 'X');
            size_t d = j + 1 + (size_t)hex, e = d;
            uint64_t v = 0;
            while (e < n && e - d < 8) {
                uint32_t c = in[e];
                int dv = (c >= '0' && c <= '9') ? (int)(c - '0')
                         : (hex && c >= 'a' && c <= 'f') ? (int)(c - 'a' + 10)
                         : (hex && c >= 'A' && c <= 'F') ? (int)(c - 'A' + 10) : -1;
                if (dv < 0) break;
                v = v * (hex ? 16 : 10) + (uint64_t)dv;
                e++;
            }
            if (e > d) {
                if (e < n && in[e] == ';') e++;
                out[k++] = (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD : (uint32_t)v;
                i = e;
                continue;
            }
        } else {
            int done = 0;
            for (size_t q = 0; q < sizeof(ent) / sizeof(ent[0]) && !done; q++) {
                size_t L = strlen(ent[q].name), e = j;
                while (e < n && e - j < L && in[e] == (uint8_t)ent[q].name[e - j]) e++;
                if (e - j != L) continue;
                if (e < n && in[e] == ';') e++;
                else if (!ent[q].semi_optional) continue;
                out[k++] = ent[q].cp;
                i = e;
                done = 1;
            }
            if (done) continue;
        }
        out[k++] = in[i++];
    }
    return k;
}

// strip + collapse whitespace runs to one ' ' + lower(); returns the new length (cap: room in out).
static size_t clean_lower(uint32_t *out, const uint32_t *in, size_t n, size_t cap) {
    size_t a = 0, b = n, k = 0;
    while (a < b && is_space(in[a])) a++;
    while (b > a && is_space(in[b - 1])) b--;
    for (size_t i = a; i < b && k < cap; i++) {
        if (is_space(in[i])) {
            if (k && out[k - 1] != ' ') out[k++] = ' ';
            continue;
        }
        if (in[i] == 0x130) {  // 'İ'.lower() == 'i̇'
            out[k++] = 'i';
            if (k < cap) out[k++] = 0x307;
            continue;
        }
        out[k++] = to_lower(in[i]);
    }
    return k;
}

// ---- BPE ---------------------------------------------------------------------------------------

// One pre-token (code points) -> ids; returns the number written (bounded by the word length).
static size_t bpe_word(const pc_clip_tokenizer *t, const uint32_t *w, size_t n, int32_t *sym) {
    // bytes -> byte symbols; the last one carries </w>
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char u[4];
        int L = utf8_put(u, w[i]);
        for (int q = 0; q < L; q++) sym[m++] = t->byte_id[(uint8_t)u[q]];
    }
    sym[m - 1] += 256;
    while (m > 1) {
        int32_t best = INT32_MAX, merged = -1;
        int32_t fa = -1, fb = -1;
        for (size_t i = 0; i + 1 < m; i++) {
            const pair_entry *e = pair_find(t, sym[i], sym[i + 1]);
            if (e && e->rank < best) {
                best = e->rank;
                merged = e->merged;
                fa = sym[i];
                fb = sym[i + 1];
            }
        }
        if (merged < 0) break;
        size_t k = 0;
        for (size_t i = 0; i < m;) {  // merge every non-overlapping (fa, fb), left to right
            if (i + 1 < m && sym[i] == fa && sym[i + 1] == fb) {
                sym[k++] = merged;
                i += 2;
            } else {
                sym[k++] = sym[i++];
            }
        }
        m = k;
    }
    return m;
}

static int is_special_at(const uint32_t *s, size_t n, size_t i, const char *lit) {
    size_t L = strlen(lit);
    if (i + L > n) return 0;
    for (size_t q = 0; q < L; q++)
        if (s[i + q] != (uint8_t)lit[q]) return 0;
    return 1;
}

// encode(): ids written up to cap; the total count is returned (stops early once `stop` ids exist).
static int64_t encode_ids(const pc_clip_tokenizer *t, const char *text, int64_t *ids, int64_t cap, int64_t stop,
                          pc_status *st, pc_error *err) {
    size_t nb = strlen(text);
    if (nb > MAX_TEXT_BYTES)
        return *st = pc_err(err, PC_ERR_ARG, "CLIP tokenizer: text of %zu bytes exceeds the %d-byte limit", nb,
                            MAX_TEXT_BYTES), -1;
    size_t cap_cp = 3 * nb + 16;  // ligatures / U+0130 can grow the text
    uint32_t *a = (uint32_t *)malloc(sizeof(uint32_t) * cap_cp);
    uint32_t *b = (uint32_t *)malloc(sizeof(uint32_t) * cap_cp);
    int32_t *sym = (int32_t *)malloc(sizeof(int32_t) * (4 * cap_cp + 1));
    if (!a || !b || !sym) {
        free(a);
        free(b);
        free(sym);
        return *st = pc_err(err, PC_ERR_MEMORY, "CLIP tokenizer: out of memory"), -1;
    }
    size_t n = utf8_decode(a, (const uint8_t *)text, nb);
    n = fix_text(b, a, n, cap_cp);
    n = html_unescape(a, b, n);
    n = html_unescape(b, a, n);
    n = clean_lower(a, b, n, cap_cp);
    int64_t count = 0;
    static const char *contr[7] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (size_t i = 0; i < n && (stop <= 0 || count < stop);) {
        size_t L = 0;
        int32_t special = -1;
        if (is_special_at(a, n, i, "<start_of_text>")) special = PC_CLIP_SOT, L = 15;
        else if (is_special_at(a, n, i, "<end_of_text>")) special = PC_CLIP_EOT, L = 13;
        if (special < 0)
            for (int q = 0; q < 7 && !L; q++)
                if (is_special_at(a, n, i, contr[q])) L = strlen(contr[q]);
        if (!L) {
            if (is_letter(a[i])) {
                while (i + L < n && is_letter(a[i + L])) L++;
            } else if (is_number(a[i])) {
                L = 1;
            } else if (!is_space(a[i])) {
                while (i + L < n && !is_space(a[i + L]) && !is_letter(a[i + L]) && !is_number(a[i + L])) L++;
            }
        }
        if (!L) {  // whitespace: findall skips it
            i++;
            continue;
        }
        if (special >= 0) {
            if (count < cap) ids[count] = special;
            count++;
        } else {
            size_t m = bpe_word(t, a + i, L, sym);
            for (size_t q = 0; q < m; q++, count++)
                if (count < cap) ids[count] = sym[q];
        }
        i += L;
    }
    free(a);
    free(b);
    free(sym);
    return count;
}

int64_t pc_clip_encode_bpe(const pc_clip_tokenizer *t, const char *text, int64_t *ids, int64_t cap, pc_error *err) {
    if (!t || !text || (cap > 0 && !ids)) return pc_err(err, PC_ERR_ARG, "pc_clip_encode_bpe: NULL argument"), -1;
    pc_status st = PC_OK;
    return encode_ids(t, text, ids, cap, 0, &st, err);
}

pc_status pc_clip_tokenize(const pc_clip_tokenizer *t, const char *text, int64_t *ids, int context_length,
                           int *n_tokens, pc_error *err) {
    if (!t || !text || !ids) return pc_err(err, PC_ERR_ARG, "pc_clip_tokenize: NULL argument");
    if (context_length < 2) return pc_err(err, PC_ERR_ARG, "pc_clip_tokenize: context_length %d < 2", context_length);
    for (int i = 0; i < context_length; i++) ids[i] = 0;
    ids[0] = PC_CLIP_SOT;
    // [SOT] + ids + [EOT] cut to context_length with the last = EOT: only the first context_length - 1
    // BPE ids can survive, so encoding stops there.
    int64_t room = context_length - 1;
    pc_status st = PC_OK;
    int64_t c = encode_ids(t, text, ids + 1, room, room, &st, err);
    if (c < 0) return st;
    int total = (int)(c + 2 > context_length ? context_length : c + 2);
    ids[total - 1] = PC_CLIP_EOT;
    if (n_tokens) *n_tokens = total;
    return PC_OK;
}
