#ifndef OPENSSL_REFERENCE_H
#define OPENSSL_REFERENCE_H

/* The operation `openssl speed rsa2048` times as "verify/s" (OpenSSL 3.0 apps/speed.c, RSA_verify_loop): a fresh
   2048-bit key, a 36-byte buffer signed once with the default (PKCS#1 v1.5) padding and no digest, then
   EVP_PKEY_verify on one EVP_PKEY_CTX, again and again. Built here so that jose-speed can alternate it with its
   own operations in one process, slice by slice, and compare the two without the host's drift between runs. */
typedef struct reference_rsa reference_rsa;

/* NULL if OpenSSL cannot make the key or the signature. */
reference_rsa *reference_rsa2048_new(void);
/* One verification, as speed.c does it; 1 if the signature verified. */
int reference_rsa2048_verify(reference_rsa *reference);

#endif
