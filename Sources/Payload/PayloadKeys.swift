import _CryptoExtras
import Crypto
import Foundation
import Support

/// RSA-2048 keys for update payloads, PEM files as openssl writes them. Signatures are PKCS#1 v1.5
/// over SHA-256, which old (manual padding) and new (EVP) update_engine clients both accept (§3.1).
public struct PayloadPrivateKey {
    let key: _RSA.Signing.PrivateKey

    /// Refuses a key file that its group or others may read, as ssh does.
    public init(contentsOf url: URL) throws {
        var info = stat()
        guard stat(url.path, &info) == 0 else { throw PayloadError(file: url.path, "cannot read the private key") }
        guard info.st_mode & 0o077 == 0 else {
            throw PayloadError(file: url.path, "the private key is accessible by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw PayloadError(file: url.path, "cannot read the private key")
        }
        do { key = try _RSA.Signing.PrivateKey(pemRepresentation: text) } catch {
            throw PayloadError(file: url.path, "not an RSA private key in PEM form")
        }
        guard key.keySizeInBits == 2048 else {
            throw PayloadError(file: url.path, "a \(key.keySizeInBits)-bit key; update clients verify 2048-bit RSA keys only")
        }
    }

    func sign(_ digest: SHA256Digest) throws -> [UInt8] {
        Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
    }

    /// Writes a new key pair: the private key readable by its owner only.
    public static func generate(privateKey: URL, publicKey: URL) throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        _ = try AtomicFile.produce(privateKey) { temporary in
            _ = FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600])
            try Data(key.pemRepresentation.utf8).write(to: temporary)
            chmod(temporary.path, 0o600)
        }
        try AtomicFile.write(key.publicKey.pemRepresentation + "\n", to: publicKey)
    }
}

public struct PayloadPublicKey: Sendable {
    let key: _RSA.Signing.PublicKey
    /// Where the key came from (a file, an update server's channel), for messages.
    public let origin: String

    public init(contentsOf url: URL) throws {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw PayloadError(file: url.path, "cannot read the public key")
        }
        try self.init(pem: text, origin: url.path)
    }

    public init(pem: String, origin: String) throws {
        self.origin = origin
        do { key = try _RSA.Signing.PublicKey(pemRepresentation: pem) } catch {
            throw PayloadError(file: origin, "not an RSA public key in PEM form")
        }
    }

    /// The key in PEM form, as `keys generate` writes it.
    public var pem: String { key.pemRepresentation }

    func isValid(_ signature: [UInt8], for digest: SHA256Digest) -> Bool {
        key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: .insecurePKCS1v1_5)
    }
}
