// libFuzzer target: checkpoint opening from memory (content sniffing, the
// safetensors header validation, tensor views). Seeds: fuzz/corpus/safetensors.
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pc_checkpoint *ck;
    pc_error err;
    if (pc_checkpoint_open_memory(&ck, data, size, "fuzz", &err) == PC_OK) {
        pc_fuzz_touch(ck);
        if (pc_checkpoint_count(ck)) {
            int64_t any[PC_MAX_DIMS] = {-1, -1, -1, -1, -1, -1, -1, -1};
            const pc_tensor *t;
            (void)pc_checkpoint_get(ck, pc_checkpoint_name(ck, 0), pc_checkpoint_tensor(ck, 0)->ndim, any, &t, &err);
        }
        pc_checkpoint_close(ck);
    }
    return 0;
}
