/*
 * Thin C helpers over OpenSSL 3 EVP for the JOSE module.
 *
 * Only what Swift cannot call directly lives here: variadic or macro APIs,
 * OSSL_PARAM building, and the few multi-step sequences that are clearer in C.
 * Every function returns NULL / 0 on failure and never prints or prompts.
 */
#ifndef TOKEN_BROKER_COPENSSL_SHIM_H
#define TOKEN_BROKER_COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

/* Algorithms the broker signs with. The numbering is shared with Swift's JWSAlgorithm. */
enum {
    TB_ALG_ES256 = 1,
    TB_ALG_RS256 = 2,
    TB_ALG_PS256 = 3,
    TB_ALG_EDDSA = 4,
};

static inline void tb_openssl_free(void *p) { OPENSSL_free(p); }

/* Generates a fresh key: P-256 for ES256, RSA of `bits` for RS256/PS256, Ed25519 for EdDSA. */
static inline EVP_PKEY *tb_keygen(int alg, unsigned int bits) {
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    switch (alg) {
    case TB_ALG_ES256:
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0) goto done;
        if (EVP_PKEY_CTX_set_group_name(ctx, "P-256") <= 0) goto done;
        break;
    case TB_ALG_RS256:
    case TB_ALG_PS256:
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0) goto done;
        if (EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0) goto done;
        break;
    case TB_ALG_EDDSA:
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
        if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0) goto done;
        break;
    default:
        return NULL;
    }
    if (EVP_PKEY_generate(ctx, &pkey) <= 0) pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static int tb_no_password(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1; /* encrypted keys are refused, never prompted for */
}

/* Parses one PEM private key from memory; NULL when it is not a key (or is encrypted). */
static inline EVP_PKEY *tb_pem_read_private(const void *data, int len) {
    BIO *bio = BIO_new_mem_buf(data, len);
    if (bio == NULL) return NULL;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, tb_no_password, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return pkey;
}

/* Copies a memory BIO's contents into a fresh buffer (free with tb_openssl_free) and frees the BIO. */
static inline int tb_bio_take(BIO *bio, int ok, unsigned char **out, size_t *outlen) {
    if (ok) {
        char *p = NULL;
        long n = BIO_get_mem_data(bio, &p);
        *out = OPENSSL_malloc((size_t)n);
        if (*out == NULL) { ok = 0; } else { memcpy(*out, p, (size_t)n); *outlen = (size_t)n; }
    }
    BIO_free(bio);
    return ok;
}

/* Serialises a private key as unencrypted PKCS#8 PEM into a freshly allocated buffer (free with tb_openssl_free). */
static inline int tb_pem_write_private(EVP_PKEY *pkey, unsigned char **out, size_t *outlen) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return 0;
    return tb_bio_take(bio, PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), out, outlen);
}

/* Serialises a public key as SubjectPublicKeyInfo PEM (free with tb_openssl_free). */
static inline int tb_pem_write_public(EVP_PKEY *pkey, unsigned char **out, size_t *outlen) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return 0;
    return tb_bio_take(bio, PEM_write_bio_PUBKEY(bio, pkey), out, outlen);
}

/* Reads a BIGNUM parameter (e.g. "n", "e", "qx", "qy") big-endian, left-padded to `padlen` when padlen > 0. Returns the length written or -1. */
static inline int tb_get_bn_param(const EVP_PKEY *pkey, const char *name, unsigned char *out, int outcap, int padlen) {
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) <= 0 || bn == NULL) return -1;
    int len = padlen > 0 ? padlen : BN_num_bytes(bn);
    int res = -1;
    if (len <= outcap) res = BN_bn2binpad(bn, out, len);
    BN_free(bn);
    return res;
}

/* Builds a public key from OSSL_PARAMs of one key type; `kind` 1 = EC P-256 (04||x||y), 2 = RSA (n, e). */
static inline EVP_PKEY *tb_public_from_params(int kind, const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL, *e = NULL;
    if (bld == NULL) return NULL;
    if (kind == 1) {
        if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0)) goto done;
        if (!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, a, alen)) goto done;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    } else if (kind == 2) {
        n = BN_bin2bn(a, (int)alen, NULL);
        e = BN_bin2bn(b, (int)blen, NULL);
        if (n == NULL || e == NULL) goto done;
        if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)) goto done;
        if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) goto done;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    } else {
        goto done;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (ctx == NULL || params == NULL) goto done;
    if (EVP_PKEY_fromdata_init(ctx) <= 0) goto done;
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) { pkey = NULL; goto done; }
    /* Reject points off the curve and degenerate RSA parameters before the key is ever used. */
    {
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        int ok = check != NULL && EVP_PKEY_public_check(check) > 0;
        EVP_PKEY_CTX_free(check);
        if (!ok) { EVP_PKEY_free(pkey); pkey = NULL; }
    }
done:
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pkey;
}

/* RS256: PKCS#1 v1.5 padding; PS256: PSS with SHA-256 MGF1 and a salt as long as the digest (RFC 7518
 * §3.5). Other algorithms need nothing. Returns 1 on success. */
static inline int tb_set_rsa_padding(EVP_PKEY_CTX *pctx, int alg) {
    if (alg == TB_ALG_PS256) {
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
            && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0
            && EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) > 0;
    }
    if (alg == TB_ALG_RS256) return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    return 1;
}

/* A ready-to-copy EVP_MD_CTX initialised for signing (sign=1) or verifying (sign=0) with `alg`. */
static inline EVP_MD_CTX *tb_make_template(EVP_PKEY *pkey, int alg, int sign) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    const char *md = alg == TB_ALG_EDDSA ? NULL : "SHA256";
    if (ctx == NULL) return NULL;
    int ok = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, pkey, NULL)
                  : EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pkey, NULL);
    if (ok <= 0) goto fail;
    if (!tb_set_rsa_padding(pctx, alg)) goto fail;
    return ctx;
fail:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

/* One-shot sign: copies the template into `work` (no algorithm fetch) and signs `data`. */
static inline int tb_sign(const EVP_MD_CTX *tmpl, EVP_MD_CTX *work, const unsigned char *data, size_t len,
                          unsigned char *sig, size_t *siglen) {
    if (EVP_MD_CTX_copy_ex(work, tmpl) <= 0) { ERR_clear_error(); return 0; }
    int ok = EVP_DigestSign(work, sig, siglen, data, len) > 0;
    if (!ok) ERR_clear_error();
    return ok;
}

/* One-shot verify: 1 valid, 0 invalid (any OpenSSL error is an invalid signature). */
static inline int tb_verify(const EVP_MD_CTX *tmpl, EVP_MD_CTX *work, const unsigned char *data, size_t len,
                            const unsigned char *sig, size_t siglen) {
    if (EVP_MD_CTX_copy_ex(work, tmpl) <= 0) { ERR_clear_error(); return 0; }
    int ok = EVP_DigestVerify(work, sig, siglen, data, len) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

/* An EVP_PKEY_CTX ready to verify SHA-256 digests with `alg` (not EdDSA, which signs the message itself):
 * verify_init, padding and digest set once, so each verification only hashes and calls EVP_PKEY_verify on a
 * context of its own, reused: no context copy per token (what `openssl speed` measures, plus the hash). */
static inline EVP_PKEY_CTX *tb_make_prehashed_verifier(EVP_PKEY *pkey, int alg, const EVP_MD *sha256) {
    if (alg == TB_ALG_EDDSA || sha256 == NULL) return NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL) goto fail;
    if (EVP_PKEY_verify_init(ctx) <= 0) goto fail;
    if (!tb_set_rsa_padding(ctx, alg)) goto fail;
    if (EVP_PKEY_CTX_set_signature_md(ctx, sha256) <= 0) goto fail;
    return ctx;
fail:
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

/* SHA-256 of `data` on `mdctx` (kept between calls: re-initialising it for the same digest reuses the provider's
   context, where EVP_Digest allocates and frees a fresh one each time), then the signature check on `ctx`
   (from tb_make_prehashed_verifier, or a dup of one). */
static inline int tb_verify_prehashed(EVP_PKEY_CTX *ctx, EVP_MD_CTX *mdctx, const EVP_MD *sha256, const unsigned char *data,
                                      size_t len, const unsigned char *sig, size_t siglen) {
    unsigned char digest[32];
    unsigned int digestlen = 0;
    if (EVP_DigestInit_ex2(mdctx, sha256, NULL) != 1 || EVP_DigestUpdate(mdctx, data, len) != 1
        || EVP_DigestFinal_ex(mdctx, digest, &digestlen) != 1 || digestlen != 32) {
        ERR_clear_error();
        return 0;
    }
    int ok = EVP_PKEY_verify(ctx, sig, siglen, digest, digestlen) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

/* DER ECDSA-Sig-Value -> fixed-width R||S (2 * n bytes). Returns 1 on success. */
static inline int tb_ecdsa_der_to_raw(const unsigned char *der, size_t derlen, unsigned char *raw, int n) {
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    if (s == NULL) { ERR_clear_error(); return 0; }
    const BIGNUM *r = NULL, *sv = NULL;
    ECDSA_SIG_get0(s, &r, &sv);
    int ok = p == der + derlen && BN_bn2binpad(r, raw, n) == n && BN_bn2binpad(sv, raw + n, n) == n;
    ECDSA_SIG_free(s);
    return ok;
}

/* Fixed-width R||S -> DER ECDSA-Sig-Value. Returns the DER length, or 0. */
static inline int tb_ecdsa_raw_to_der(const unsigned char *raw, int n, unsigned char *der, int dercap) {
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, n, NULL);
    BIGNUM *sv = BN_bin2bn(raw + n, n, NULL);
    int len = 0;
    if (s == NULL || r == NULL || sv == NULL || !ECDSA_SIG_set0(s, r, sv)) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(s);
        return 0;
    }
    if (i2d_ECDSA_SIG(s, NULL) <= dercap) {
        unsigned char *p = der;
        len = i2d_ECDSA_SIG(s, &p);
    }
    ECDSA_SIG_free(s);
    return len > 0 ? len : 0;
}

#endif
