// OpenSSL 3's EVP interface, for the 国密 primitives (SM2, SM3, SM4) of the sm2-sm3 crypto profile.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
