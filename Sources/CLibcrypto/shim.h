#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/* BIO_get_mem_data is a macro, which Swift cannot call. */
static inline long coresdk_bio_contents(BIO *bio, char **contents) { return BIO_get_mem_data(bio, contents); }
