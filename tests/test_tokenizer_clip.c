// CLIP BPE tokenizer (open_clip v2.22 SimpleTokenizer + tokenize) vs the golden token ids
// (clip_tiny.safetensors text_tokens: "", "Rotating view of a scene", "a photo of a cat, 4k"), plus
// truncation, padding and the cleanup steps we emulate (html.unescape, ftfy quote uncurling, case).
#include <string.h>

#include "testutil.h"

static void same_ids(pc_clip_tokenizer *tok, const char *a, const char *b) {
    int64_t ia[77], ib[77];
    pc_error err;
    pc_test_ok(pc_clip_tokenize(tok, a, ia, 77, NULL, &err), &err, "tokenize");
    pc_test_ok(pc_clip_tokenize(tok, b, ib, 77, NULL, &err), &err, "tokenize");
    PC_CHECK(!memcmp(ia, ib, sizeof(ia)), "'%s' and '%s' give the same ids", a, b);
}

int main(void) {
    char bpe[1024], gold[1024];
    pc_test_shared_path(bpe, sizeof(bpe), "golden/dynamicrafter/bpe_simple_vocab_16e6.txt.gz");
    pc_test_shared_path(gold, sizeof(gold), "golden/dynamicrafter/clip_tiny.safetensors");
    pc_error err;
    pc_clip_tokenizer *tok;
    pc_test_ok(pc_clip_tokenizer_load(&tok, bpe, &err), &err, "load BPE merges");
    pc_checkpoint *ck;
    pc_test_ok(pc_checkpoint_open(&ck, gold, &err), &err, "open clip_tiny.safetensors");
    const pc_tensor *tt = pc_checkpoint_find(ck, "text_tokens");
    PC_CHECK(tt && tt->dtype == PC_I64 && tt->ndim == 2 && tt->shape[0] == 3 && tt->shape[1] == 77,
             "golden text_tokens is int64 (3, 77)");
    static const char *prompts[3] = {"", "Rotating view of a scene", "a photo of a cat, 4k"};
    if (tt && tt->dtype == PC_I64 && tt->shape[0] == 3 && tt->shape[1] == 77) {
        const int64_t *want = (const int64_t *)tt->data;
        for (int p = 0; p < 3; p++) {
            int64_t ids[77];
            int n = 0;
            pc_test_ok(pc_clip_tokenize(tok, prompts[p], ids, 77, &n, &err), &err, "tokenize");
            int bad = -1;
            for (int i = 0; i < 77 && bad < 0; i++)
                if (ids[i] != want[p * 77 + i]) bad = i;
            PC_CHECK(bad < 0, "tokens of \"%s\" exact (%d ids before padding)%s", prompts[p], n,
                     bad < 0 ? "" : " -- first mismatch");
            if (bad >= 0) printf("  at %d: got %lld want %lld\n", bad, (long long)ids[bad], (long long)want[p * 77 + bad]);
        }
    }
    pc_checkpoint_close(ck);

    // Truncation: 100 words -> 77 ids, last forced to EOT, no padding.
    char longtxt[1024] = "";
    for (int i = 0; i < 100; i++) strcat(longtxt, "cat ");
    int64_t ids[77];
    int n = 0;
    pc_test_ok(pc_clip_tokenize(tok, longtxt, ids, 77, &n, &err), &err, "tokenize long");
    int ok = n == 77 && ids[0] == PC_CLIP_SOT && ids[76] == PC_CLIP_EOT;
    for (int i = 1; i < 76; i++) ok &= ids[i] == 2368;  // "cat</w>"
    PC_CHECK(ok, "100 words truncate to 77 ids with EOT last (n = %d)", n);

    // Cleanup steps of basic_clean / whitespace_clean / lower.
    same_ids(tok, "a photo of a cat, 4k", "  A   PHOTO\tof a\n cat, 4K  ");
    same_ids(tok, "tom & jerry", "tom &amp; jerry");
    same_ids(tok, "tom & jerry", "tom &amp;amp; jerry");  // unescaped twice
    same_ids(tok, "it's", "it\xe2\x80\x99s");               // ftfy uncurl_quotes
    same_ids(tok, "caf\xc3\xa9", "CAF\xc3\x89");           // lower() beyond ASCII
    same_ids(tok, "fish", "\xef\xac\x81sh");                  // ftfy fix_latin_ligatures (U+FB01)
    same_ids(tok, "cat!", "\xef\xbc\xa3\xef\xbc\xa1\xef\xbc\xb4\xef\xbc\x81");  // fix_character_width (fullwidth)
    same_ids(tok, "a cat", "a\x01 cat\x7f");                  // remove_control_chars

    // Digits are single tokens; contractions split off; special token literals map to their ids.
    int64_t raw[16];
    int64_t c = pc_clip_encode_bpe(tok, "2024", raw, 16, &err);
    PC_CHECK(c == 4, "\"2024\" -> 4 digit tokens (got %lld)", (long long)c);
    c = pc_clip_encode_bpe(tok, "<end_of_text>", raw, 16, &err);
    PC_CHECK(c == 1 && raw[0] == PC_CLIP_EOT, "literal <end_of_text> -> 49407");

    // Bad inputs fail cleanly.
    pc_clip_tokenizer *bad = NULL;
    PC_CHECK(pc_clip_tokenizer_load(&bad, "/nonexistent/bpe.txt.gz", &err) == PC_ERR_IO && !bad,
             "missing merges file -> PC_ERR_IO (%s)", err.msg);
    PC_CHECK(pc_clip_tokenize(tok, "x", ids, 1, NULL, &err) == PC_ERR_ARG, "context_length 1 rejected");
    const char invalid[] = {'a', (char)0xff, 'b', 0};
    PC_CHECK(pc_clip_tokenize(tok, invalid, ids, 77, &n, &err) == PC_OK && ids[n - 1] == PC_CLIP_EOT,
             "invalid UTF-8 is tokenised (as U+FFFD), not rejected");
    // Random byte strings (any UTF-8 validity): always SOT ... EOT, zero-padded, ids < 49408.
    pc_test_rng rng = {12345};
    int all_ok = 1;
    for (int it = 0; it < 300 && all_ok; it++) {
        char buf[200];
        int len = (int)(pc_test_next(&rng) % 199);
        for (int i = 0; i < len; i++) {
            char ch = (char)(pc_test_next(&rng) & 0xFF);
            buf[i] = ch ? ch : ' ';
        }
        buf[len] = 0;
        int m = 0;
        all_ok &= pc_clip_tokenize(tok, buf, ids, 77, &m, &err) == PC_OK;
        all_ok &= m >= 2 && m <= 77 && ids[0] == PC_CLIP_SOT && ids[m - 1] == PC_CLIP_EOT;
        for (int i = 1; i < m - 1; i++) all_ok &= ids[i] >= 0 && ids[i] < 49406;
        for (int i = m; i < 77; i++) all_ok &= ids[i] == 0;
    }
    PC_CHECK(all_ok, "300 random byte strings tokenise to SOT ... EOT + zero padding");
    int64_t uni[77];
    pc_test_ok(pc_clip_tokenize(tok, "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac 123", uni, 77, &n, &err), &err,
               "tokenize unicode");
    PC_CHECK(n >= 8, "non-ASCII letters + CJK + digits tokenise (%d ids)", n);

    pc_clip_tokenizer_free(tok);
    return pc_test_finish();
}
