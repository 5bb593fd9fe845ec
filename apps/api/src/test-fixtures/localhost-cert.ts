/**
 * A self-signed certificate for `localhost` (EC P-256, valid until 2126) and its key, for https
 * webhook receivers in tests: the deliverer is given the certificate as its extra CA, so a
 * delivery succeeds only if TLS checked it against the URL's host name (not the pinned address).
 * Test-only material.
 */
export const LOCALHOST_CERT = `-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUFeCtc9nn73TqR5EqwqhBRqSjtYcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNDE1NDg1MFoYDzIxMjYxMTEw
MTU0ODUwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATa339EByBzKu8tX5JSFTdV5wHhNN0fx3cmNYoRVnnTTehgOz5iDSHf
Maf//3wNbYgiOrMfV9OPaB/bEKyBBXaWo2kwZzAdBgNVHQ4EFgQUeh8m9XEhuX3F
qu2Tox0iFS0DZ90wHwYDVR0jBBgwFoAUeh8m9XEhuX3Fqu2Tox0iFS0DZ90wDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SQAwRgIhAMy2fG/8rm80ncyJxnjH5vMrUkdsMtqjNrYu5qyyGJ73AiEAuguKDudB
uVPLeGWLPcEAfYqQSHBHnVAJtbXG30hmI0s=
-----END CERTIFICATE-----
`;

/** The private key of `LOCALHOST_CERT`. */
export const LOCALHOST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQjkkz7JxeLoB5D1J
QPRHp5XBMwT9TwE2BGp+LNC68OKhRANCAATa339EByBzKu8tX5JSFTdV5wHhNN0f
x3cmNYoRVnnTTehgOz5iDSHfMaf//3wNbYgiOrMfV9OPaB/bEKyBBXaW
-----END PRIVATE KEY-----
`;
