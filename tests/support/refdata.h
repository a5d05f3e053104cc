/* refdata.h - test helpers: where the procgen reference data lives. */
#ifndef COINBC_TEST_REFDATA_H
#define COINBC_TEST_REFDATA_H
/* Path of a file under shared/coinrun/refdata, or NULL (with a message on
 * stdout) when the reference data is not present. */
const char *test_refdata(const char *name);
#endif
