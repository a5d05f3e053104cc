/* refdata.h - test helpers: where the procgen reference data lives
 * (tests/data/procgen/ in the repository, README.md there describes it). */
#ifndef COINBC_TEST_REFDATA_H
#define COINBC_TEST_REFDATA_H
/* The repository the test program was built in (or that holds the working
 * directory): the folder above tests/data/procgen; NULL if not found. */
const char *test_repo_root(void);
/* The reference data folder: $COINBC_REFDATA if set, else tests/data/procgen
 * of the repository the test program was built in (or that holds the working
 * directory); NULL if neither is found. */
const char *test_refdata_root(void);
/* Path of a file under the reference data folder. Never NULL: a missing
 * folder or file fails the calling cmocka test with a message naming it. */
const char *test_refdata(const char *name);
#endif
