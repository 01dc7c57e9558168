// ferryd: the Ferry model server (main/ferryd_main.h).
#include "main/ferryd_main.h"

int main(int argc, char** argv) { return ferry::FerrydMain(argc, argv); }
