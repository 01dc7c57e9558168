// Compiled by tests/boundaries with one module's include path, -DOWN_HEADER="module/own.h" (a header of that module:
// it must be found, or the command line is wrong) and -DFORBIDDEN_HEADER="other/file.h" (a header of a module it may
// not see): it stands for a source file of that module including both, and must fail on the second.
#include OWN_HEADER
#include FORBIDDEN_HEADER
