import Crypto
import Support
import Foundation

/// Checks a payload the way update_engine consumes it (§1.1, §3.4): header and manifest, blob order
/// with no gaps, every operation's hash, the rebuilt partition's and boot files' sizes and hashes,
/// the file size, and the signature.
public struct PayloadVerifier {
    public struct Report: Sendable {
        public let partitionSize: UInt64
        public let operations: Int
        public let procedures: [String]
        public let signatures: Int
        public let fileSize: UInt64
    }

    public let payload: PayloadFile

    public init(_ url: URL) throws { payload = try PayloadFile(url) }

    /// The digest signers sign: SHA-256 of everything before the Signatures blob.
    public func digestToSign() throws -> SHA256Digest {
        guard let length = payload.signedLength else { throw PayloadError(file: payload.url.path, "the manifest has no signatures_offset") }
        guard payload.fileSize >= length else { throw PayloadError(file: payload.url.path, "truncated before its signatures") }
        return try payload.sha256(ofFirst: length)
    }

    /// Verifies everything; with `publicKeys`, the version-2 signature (the one clients check) must
    /// verify with the first key and every further key must verify one of the signatures.
    /// `rebuildingPartition: false` leaves the partition's hash to a caller that rebuilds it anyway.
    @discardableResult
    public func verify(publicKeys: [PayloadPublicKey], requireSignature: Bool = true,
                       rebuildingPartition: Bool = true) throws -> Report {
        let manifest = payload.manifest
        let path = payload.url.path
        guard manifest.blockSize == UInt32(PayloadFormat.blockSize) else {
            throw PayloadError(file: path, "block size \(manifest.blockSize); only 4096 is supported")
        }
        guard let signaturesOffset = manifest.signaturesOffset, let signaturesSize = manifest.signaturesSize else {
            throw PayloadError(file: path, "unsigned payload (no signatures in the manifest)")
        }
        // Blobs are contiguous in the order the client reads them, ending where the signatures start.
        let ordered = manifest.partitionOperations + manifest.procedures.flatMap(\.operations)
        var running: UInt64 = 0
        for (index, operation) in ordered.enumerated() {
            guard let length = operation.dataLength, length > 0 else { continue }
            guard UInt64(operation.dataOffset ?? 0) == running else {
                throw PayloadError(file: path, "operation \(index)'s data is at \(operation.dataOffset ?? 0), expected \(running) (blobs out of order)")
            }
            guard operation.dataSHA256?.count == 32 else { throw PayloadError(file: path, "operation \(index) has no data_sha256_hash") }
            running += UInt64(length)
        }
        guard running == signaturesOffset else {
            throw PayloadError(file: path, "the blobs end at \(running) but the signatures are said to start at \(signaturesOffset)")
        }
        if let last = manifest.noopOperations.last {
            guard UInt64(last.dataOffset ?? 0) == signaturesOffset, UInt64(last.dataLength ?? 0) == signaturesSize else {
                throw PayloadError(file: path, "the last noop operation is not the signature operation")
            }
        }
        let expectedSize = payload.blobStart + signaturesOffset + signaturesSize
        guard payload.fileSize == expectedSize else {
            throw PayloadError(payload.fileSize < expectedSize
                ? "\(path): truncated: \(payload.fileSize) bytes, the manifest describes \(expectedSize)"
                : "\(path): \(payload.fileSize - expectedSize) unexpected bytes after the signatures")
        }

        // Rebuild the partition and each boot file, hashing as the client would after writing them.
        guard let partitionInfo = manifest.newPartitionInfo else { throw PayloadError(file: path, "no new_partition_info") }
        if rebuildingPartition {
            try rebuild(manifest.partitionOperations, expected: partitionInfo, what: "the partition") { _ in }
        }
        var procedures: [String] = []
        for procedure in manifest.procedures {
            guard let info = procedure.newInfo else { throw PayloadError(file: path, "a procedure has no new_info") }
            try rebuild(procedure.operations, expected: info, what: "procedure \(procedure.type.map { "\($0)" } ?? "?")") { _ in }
            procedures.append(procedure.type.map { "\($0)" } ?? "unknown")
        }

        let signatures = try Signatures(decoding: try payload.blob(offset: signaturesOffset, length: Int(signaturesSize))[...])
        if requireSignature || !publicKeys.isEmpty {
            guard !signatures.signatures.isEmpty, signatures.signatures.allSatisfy({ $0.data.contains { $0 != 0 } }) else {
                throw PayloadError(file: path, "the payload is not signed yet (run `coresdk payload insert-signature`)")
            }
        }
        let digest = try digestToSign()
        for (index, key) in publicKeys.enumerated() {
            let candidates = index == 0 ? signatures.signatures.filter { $0.version == 2 }.prefix(1).map(\.data)
                                        : signatures.signatures.map(\.data)
            guard candidates.contains(where: { key.isValid($0, for: digest) }) else {
                throw PayloadError(file: path, key: key.origin, "the signature does not verify with \(key.origin) (wrong key, or the payload was changed)")
            }
        }
        return Report(partitionSize: partitionInfo.size, operations: ordered.count, procedures: procedures,
                      signatures: signatures.signatures.count, fileSize: payload.fileSize)
    }

    /// Decodes `operations` in order (they must cover the target from block 0 without gaps), hands each
    /// piece to `sink` and checks the total size and SHA-256 against `expected`.
    public func rebuild(_ operations: [InstallOperation], expected: InstallInfo, what: String,
                        sink: (_ piece: (offset: UInt64, bytes: [UInt8])) throws -> Void) throws {
        let path = payload.url.path
        var hasher = SHA256()
        var written: UInt64 = 0
        for (index, operation) in operations.enumerated() {
            guard operation.dstExtents.count == 1, let extent = operation.dstExtents.first,
                  extent.startBlock != Extent.sparseHole, extent.startBlock * UInt64(PayloadFormat.blockSize) == written else {
                throw PayloadError(file: path, "\(what): operation \(index) does not continue where the previous one ended")
            }
            let capacity = Int(extent.numBlocks) * PayloadFormat.blockSize
            let blob = try payload.blob(offset: UInt64(operation.dataOffset ?? 0), length: Int(operation.dataLength ?? 0))
            guard Array(SHA256.hash(data: blob)) == operation.dataSHA256 else {
                throw PayloadError(file: path, "\(what): operation \(index)'s data does not match its SHA-256 (damaged payload)")
            }
            var bytes: [UInt8]
            switch operation.type {
            case .replace: bytes = blob
            case .replaceBZ:
                do {
                    bytes = try Bzip2.decompress(blob, limit: capacity)
                } catch let error as Bzip2Error {
                    throw PayloadError(file: path, "\(what): operation \(index)'s REPLACE_BZ data \(error)")
                }
            case .move, .bsdiff:
                throw PayloadError(file: path, "\(what): delta operations (MOVE, BSDIFF) are not supported")
            }
            guard bytes.count <= capacity else { throw PayloadError(file: path, "\(what): operation \(index) writes past its extent") }
            // The client zero-pads the last block; what counts is the first `size` bytes.
            bytes += [UInt8](repeating: 0, count: capacity - bytes.count)
            let counted = bytes.prefix(Int(min(UInt64(bytes.count), expected.size > written ? expected.size - written : 0)))
            hasher.update(data: counted)
            try sink((written, bytes))
            written += UInt64(capacity)
        }
        guard written >= expected.size, Array(hasher.finalize()) == expected.hash else {
            throw PayloadError(file: path, "\(what) rebuilt from the operations does not match its size and SHA-256")
        }
    }

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
        let digest = try payload.sha256(ofFirst: signedLength)
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
