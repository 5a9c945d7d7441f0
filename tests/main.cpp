// The doctest runner for strata's unit tests: one executable for every test file, so the
// library's templates are compiled once per file and linked once.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
