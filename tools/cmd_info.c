// posecrafter info FILE — placeholder until the checkpoint readers land.
#include <stdio.h>
#include "commands.h"
int pc_cmd_info(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "posecrafter info: checkpoint readers are not built yet\n");
    return 1;
}
