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

    public init(path: String) throws { payload = try PayloadFile(path: path) }

    public init(_ payload: PayloadFile) { self.payload = payload }

    /// The digest signers sign: SHA-256 of everything before the Signatures blob.
    public func digestToSign() throws -> [UInt8] {
        guard let length = payload.signedLength else { throw PayloadError(file: payload.path, "the manifest has no signatures_offset") }
        guard payload.fileSize >= length else { throw PayloadError(file: payload.path, "truncated before its signatures") }
        return try payload.digest(ofFirst: length)
    }

    /// Verifies everything; with `publicKeys`, the version-2 signature (the one clients check) must
    /// verify with the first key and every further key must verify one of the signatures.
    /// `rebuildingPartition: false` leaves the partition's hash to a caller that rebuilds it anyway.
    @discardableResult
    public func verify(publicKeys: [PayloadPublicKey], requireSignature: Bool = true,
                       rebuildingPartition: Bool = true) throws -> Report {
        let manifest = payload.manifest
        let path = payload.path
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
        let path = payload.path
        var hasher = Digester()
        var written: UInt64 = 0
        for (index, operation) in operations.enumerated() {
            guard operation.dstExtents.count == 1, let extent = operation.dstExtents.first,
                  extent.startBlock != Extent.sparseHole, extent.startBlock * UInt64(PayloadFormat.blockSize) == written else {
                throw PayloadError(file: path, "\(what): operation \(index) does not continue where the previous one ended")
            }
            let capacity = Int(extent.numBlocks) * PayloadFormat.blockSize
            let blob = try payload.blob(offset: UInt64(operation.dataOffset ?? 0), length: Int(operation.dataLength ?? 0))
            guard Digester.sha256(blob) == operation.dataSHA256 else {
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
            hasher.update(counted)
            try sink((written, bytes))
            written += UInt64(capacity)
        }
        guard written >= expected.size, hasher.finalize() == expected.hash else {
            throw PayloadError(file: path, "\(what) rebuilt from the operations does not match its size and SHA-256")
        }
    }

    /// A boot file (kernel, initramfs, command line, os-release) rebuilt and checked, cut to its size.
    public func rebuildFile(_ operations: [InstallOperation], expected: InstallInfo, what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try rebuild(operations, expected: expected, what: what) { bytes += $0.bytes }
        return Array(bytes.prefix(Int(expected.size)))
    }
}
