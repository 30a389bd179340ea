import Foundation
import Payload
import Support

// The host side of payloads: the CLI and the update server name files by URL and report errors
// with ErrorDetails; the Foundation-free Payload module (shared with the in-image update engine)
// takes paths.

extension PayloadError: ReportableError {
    public var details: ErrorDetails { ErrorDetails(message: message, file: file, key: key) }
}

extension PayloadFile {
    public init(_ url: URL) throws { try self.init(path: url.path) }
    public var url: URL { URL(fileURLWithPath: path) }
}

extension PayloadVerifier {
    public init(_ url: URL) throws { try self.init(path: url.path) }

    /// Adds signatures made offline over `digestToSign()`, in order (the last one gets version 2).
    public static func insertSignatures(_ signatures: [[UInt8]], into url: URL, publicKeys: [PayloadPublicKey] = []) throws {
        let payload = try PayloadFile(url)
        guard let size = payload.manifest.signaturesSize, let signedLength = payload.signedLength else {
            throw PayloadError(file: url.path, "the manifest has no room for signatures")
        }
        guard payload.fileSize == signedLength || payload.fileSize == signedLength + size else {
            throw PayloadError(file: url.path, "\(payload.fileSize) bytes; expected \(signedLength) (unsigned) or \(signedLength + size) (signed)")
        }
        for (index, signature) in signatures.enumerated() where signature.count != PayloadFormat.signatureSize {
            throw PayloadError("signature \(index + 1) is \(signature.count) bytes; RSA-2048 signatures are \(PayloadFormat.signatureSize)")
        }
        let blob = Signatures(signatures).encoded()
        guard UInt64(blob.count) == size else {
            throw PayloadError(file: url.path, "made for \(Int(size) / Signatures.encodedSize(count: 1, signatureSize: PayloadFormat.signatureSize)) signature(s), got \(signatures.count)")
        }
        let digest = try payload.digest(ofFirst: signedLength)
        for key in publicKeys where !signatures.contains(where: { key.isValid($0, for: digest) }) {
            throw PayloadError(key: key.origin, "no signature verifies with \(key.origin) for this payload")
        }
        try AtomicFile.produce(url) { temporary in
            try Command.run(["cp", url.path, temporary.path])
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.truncate(atOffset: signedLength)
            try handle.seekToEnd()
            try handle.write(contentsOf: blob)
            try handle.synchronize()
        }
    }
}

extension PayloadPublicKey {
    public init(contentsOf url: URL) throws { try self.init(path: url.path) }
}

extension PayloadPrivateKey {
    public init(contentsOf url: URL) throws { try self.init(path: url.path) }

    /// Writes a new key pair: the private key readable by its owner only.
    public static func generate(privateKey: URL, publicKey: URL) throws {
        let key = try generate()
        _ = try AtomicFile.produce(privateKey) { temporary in
            _ = FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600])
            try Data(key.pem.utf8).write(to: temporary)
            chmod(temporary.path, 0o600)
        }
        try AtomicFile.write(key.publicKey.pem, to: publicKey)
    }
}
