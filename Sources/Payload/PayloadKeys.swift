import CLibcrypto
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 (and SHA-1, which Omaha's `package@hash` still carries) through libcrypto, streaming.
public struct Digester: ~Copyable {
    public enum Algorithm { case sha256, sha1 }
    private let context: OpaquePointer

    public init(_ algorithm: Algorithm = .sha256) {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, algorithm == .sha256 ? EVP_sha256() : EVP_sha1(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress, !bytes.isEmpty { EVP_DigestUpdate(context, base, bytes.count) }
    }

    public mutating func update(_ bytes: some Collection<UInt8>) {
        if let done = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) { return done }
        Array(bytes).withUnsafeBytes { update($0) }
    }

    public consuming func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return Array(digest.prefix(Int(length)))
    }

    public static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var digester = Digester()
        digester.update(bytes)
        return digester.finalize()
    }
}

/// An RSA key held by libcrypto; freed with its owner.
private final class EVPKey: @unchecked Sendable {
    let key: OpaquePointer
    init(_ key: OpaquePointer) { self.key = key }
    deinit { EVP_PKEY_free(key) }

    /// The key of a PEM text: `read` is PEM_read_bio_PUBKEY or PEM_read_bio_PrivateKey.
    static func parse(_ pem: String, _ read: (OpaquePointer?) -> OpaquePointer?) -> EVPKey? {
        var text = Array(pem.utf8)
        return text.withUnsafeMutableBytes { bytes -> EVPKey? in
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio).map(EVPKey.init)
        }
    }

    var isRSA2048: Bool { EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) == 2048 }
    var bits: Int { Int(EVP_PKEY_get_bits(key)) }

    /// A context for PKCS#1 v1.5 over a SHA-256 digest: what update_engine checks (§3.1).
    func pkcs1Context(_ initialize: (OpaquePointer?) -> Int32) -> OpaquePointer? {
        guard let context = EVP_PKEY_CTX_new(key, nil) else { return nil }
        guard initialize(context) == 1, EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1,
              EVP_PKEY_CTX_set_signature_md(context, EVP_sha256()) == 1 else {
            EVP_PKEY_CTX_free(context)
            return nil
        }
        return context
    }

    func pem(_ write: (OpaquePointer?) -> Int32) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { return nil }
        var contents: UnsafeMutablePointer<CChar>?
        let length = coresdk_bio_contents(bio, &contents)
        guard let contents, length > 0 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: contents, count: Int(length)), as: UTF8.self)
    }
}

/// An RSA-2048 public key that payload signatures are checked with: PKCS#1 v1.5 over SHA-256, which
/// old (manual padding) and new (EVP) update_engine clients both accept (§3.1).
public struct PayloadPublicKey: Sendable {
    private let key: EVPKey
    /// Where the key came from (a file, an update server's channel), for messages.
    public let origin: String

    public init(pem: String, origin: String) throws(PayloadError) {
        self.origin = origin
        guard let key = EVPKey.parse(pem, { PEM_read_bio_PUBKEY($0, nil, nil, nil) }), EVP_PKEY_get_base_id(key.key) == EVP_PKEY_RSA else {
            ERR_clear_error()
            throw PayloadError(file: origin, "not an RSA public key in PEM form")
        }
        guard key.isRSA2048 else { throw PayloadError(file: origin, "a \(key.bits)-bit key; update clients verify 2048-bit RSA keys only") }
        self.key = key
    }

    public init(path: String) throws(PayloadError) {
        guard let bytes = SystemFile.contents(of: path, limit: 1 << 20) else { throw PayloadError(file: path, "cannot read the public key") }
        try self.init(pem: String(decoding: bytes, as: UTF8.self), origin: path)
    }

    /// The key in PEM form (SubjectPublicKeyInfo), as `keys generate` writes it.
    public var pem: String { key.pem { PEM_write_bio_PUBKEY($0, key.key) } ?? "" }

    public func isValid(_ signature: [UInt8], for digest: [UInt8]) -> Bool {
        guard let context = key.pkcs1Context({ EVP_PKEY_verify_init($0) }) else { return false }
        defer { EVP_PKEY_CTX_free(context) }
        let verdict = EVP_PKEY_verify(context, signature, signature.count, digest, digest.count)
        ERR_clear_error()
        return verdict == 1
    }
}

/// The RSA-2048 private key a payload is signed with, a PEM file as openssl writes it.
public struct PayloadPrivateKey {
    private let key: EVPKey

    /// Refuses a key file that its group or others may read, as ssh does.
    public init(path: String) throws(PayloadError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw PayloadError(file: path, "cannot read the private key") }
        guard info.st_mode & 0o077 == 0 else {
            throw PayloadError(file: path, "the private key is accessible by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let bytes = SystemFile.contents(of: path, limit: 1 << 20) else { throw PayloadError(file: path, "cannot read the private key") }
        guard let key = EVPKey.parse(String(decoding: bytes, as: UTF8.self), { PEM_read_bio_PrivateKey($0, nil, nil, nil) }),
              EVP_PKEY_get_base_id(key.key) == EVP_PKEY_RSA else {
            ERR_clear_error()
            throw PayloadError(file: path, "not an RSA private key in PEM form")
        }
        guard key.isRSA2048 else { throw PayloadError(file: path, "a \(key.bits)-bit key; update clients verify 2048-bit RSA keys only") }
        self.key = key
    }

    private init(_ key: EVPKey) { self.key = key }

    /// A new RSA-2048 key.
    public static func generate() throws(PayloadError) -> PayloadPrivateKey {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil) else { throw PayloadError("libcrypto cannot make RSA keys") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_rsa_keygen_bits(context, 2048) == 1,
              EVP_PKEY_generate(context, &key) == 1, let key else { throw PayloadError("libcrypto failed to generate an RSA key") }
        return PayloadPrivateKey(EVPKey(key))
    }

    /// PKCS#8 PEM, the form `openssl genpkey` writes.
    public var pem: String { key.pem { PEM_write_bio_PrivateKey($0, key.key, nil, nil, 0, nil, nil) } ?? "" }

    public var publicKey: PayloadPublicKey {
        // The public half re-read from its own PEM keeps PayloadPublicKey's one way in.
        (try? PayloadPublicKey(pem: key.pem { PEM_write_bio_PUBKEY($0, key.key) } ?? "", origin: "generated key"))!
    }

    /// The PKCS#1 v1.5 signature of a SHA-256 digest.
    public func sign(_ digest: [UInt8]) throws(PayloadError) -> [UInt8] {
        guard let context = key.pkcs1Context({ EVP_PKEY_sign_init($0) }) else { throw PayloadError("libcrypto cannot sign with this key") }
        defer { EVP_PKEY_CTX_free(context) }
        var length = 0
        guard EVP_PKEY_sign(context, nil, &length, digest, digest.count) == 1 else { throw PayloadError("libcrypto cannot sign with this key") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_sign(context, &signature, &length, digest, digest.count) == 1 else { throw PayloadError("signing failed") }
        return Array(signature.prefix(length))
    }
}
