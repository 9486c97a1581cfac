#include "OpenSSLReference.h"

#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

struct reference_rsa {
    EVP_PKEY *key;
    EVP_PKEY_CTX *verify;
    unsigned char message[36];
    unsigned char signature[256];
    size_t signature_length;
};

reference_rsa *reference_rsa2048_new(void) {
    reference_rsa *reference = calloc(1, sizeof(reference_rsa));
    if (reference == NULL) return NULL;
    for (int i = 0; i < 36; i++) reference->message[i] = (unsigned char)i;
    reference->key = EVP_RSA_gen(2048);
    EVP_PKEY_CTX *sign = reference->key ? EVP_PKEY_CTX_new(reference->key, NULL) : NULL;
    reference->signature_length = sizeof(reference->signature);
    int ok = sign != NULL && EVP_PKEY_sign_init(sign) > 0
        && EVP_PKEY_sign(sign, reference->signature, &reference->signature_length, reference->message, 36) > 0;
    EVP_PKEY_CTX_free(sign);
    if (ok) {
        reference->verify = EVP_PKEY_CTX_new(reference->key, NULL);
        ok = reference->verify != NULL && EVP_PKEY_verify_init(reference->verify) > 0 && reference_rsa2048_verify(reference) == 1;
    }
    if (!ok) {
        EVP_PKEY_CTX_free(reference->verify);
        EVP_PKEY_free(reference->key);
        free(reference);
        return NULL;
    }
    return reference;
}

int reference_rsa2048_verify(reference_rsa *reference) {
    return EVP_PKEY_verify(reference->verify, reference->signature, reference->signature_length, reference->message, 36) == 1;
}
