import Dispatch
import Foundation
import Payload
import Support

/// Makes a full CrAU v1 payload (§4.1): the USR partition image in 1 MiB chunks, each REPLACE_BZ
/// (bzip2 -9) or REPLACE where bzip2 does not shrink it, compressed on every core; then one
/// procedure per boot file (kernel, initramfs, command line). Identical inputs give identical bytes.
public struct PayloadGenerator {
    public var partitionImage: URL
    public var bootFiles: [(kind: InstallProcedure.Kind, contents: [UInt8])]
    /// How many signatures the payload is made for: the manifest records the Signatures blob's size,
    /// and the manifest is what gets signed, so the count is fixed before hashing (§3.3).
    public var signatureCount: Int

    public init(partitionImage: URL, bootFiles: [(kind: InstallProcedure.Kind, contents: [UInt8])], signatureCount: Int) {
        self.partitionImage = partitionImage
        self.bootFiles = bootFiles
        self.signatureCount = signatureCount
    }

    public struct Result: Sendable {
        public let digestToSign: [UInt8]
        public let signed: Bool
        public let size: UInt64
        public let partitionSize: UInt64
    }

    /// Writes the payload to `output` (atomically); signs it when keys are given, otherwise leaves it
    /// ready for `insert-signature`.
    public func write(to output: URL, signingKeys: [PayloadPrivateKey] = []) throws -> Result {
        guard signatureCount >= 1, signatureCount <= 15 else { throw PayloadError("a payload carries 1 to 15 signatures") }
        guard signingKeys.isEmpty || signingKeys.count == signatureCount else {
            throw PayloadError("\(signingKeys.count) keys for a payload made for \(signatureCount) signatures")
        }
        let partition = try Data(contentsOf: partitionImage, options: .alwaysMapped)
        guard !partition.isEmpty, partition.count % PayloadFormat.blockSize == 0 else {
            throw PayloadError(file: partitionImage.path, "\(partition.count) bytes is not a whole number of 4096-byte blocks")
        }

        var manifest = DeltaArchiveManifest()
        var blobs: [[UInt8]] = []
        var offset: UInt64 = 0
        func append(_ chunks: [Chunk]) -> [InstallOperation] {
            chunks.map { chunk in
                defer { offset += UInt64(chunk.blob.count); blobs.append(chunk.blob) }
                return InstallOperation(type: chunk.type, dataOffset: UInt32(offset), dataLength: UInt32(chunk.blob.count),
                                        dstExtents: [Extent(startBlock: chunk.firstBlock, numBlocks: chunk.blockCount)],
                                        dataSHA256: Digester.sha256(chunk.blob))
            }
        }
        manifest.partitionOperations = append(try Self.chunks(of: partition))
        for file in bootFiles {
            let operations = append(try Self.chunks(of: Data(file.contents)))
            manifest.procedures.append(InstallProcedure(type: file.kind, operations: operations,
                                                        newInfo: InstallInfo(size: UInt64(file.contents.count),
                                                                             hash: Digester.sha256(file.contents))))
        }
        guard offset < UInt64(UInt32.max) else { throw PayloadError("the payload's data exceeds 4 GiB, the format's limit") }
        // Old clients write every blob somewhere: copies of the procedure operations and the signature
        // blob itself go to sparse holes (§1.2).
        manifest.noopOperations = manifest.procedures.flatMap(\.operations).map { operation in
            var noop = operation
            noop.type = .replace
            noop.dstExtents = [Extent(startBlock: Extent.sparseHole, numBlocks: Self.blocks(UInt64(operation.dataLength ?? 0)))]
            return noop
        }
        let signaturesSize = UInt64(Signatures.encodedSize(count: signatureCount, signatureSize: PayloadFormat.signatureSize))
        manifest.signaturesOffset = offset
        manifest.signaturesSize = signaturesSize
        manifest.noopOperations.append(InstallOperation(type: .replace, dataOffset: UInt32(offset), dataLength: UInt32(signaturesSize),
                                                        dstExtents: [Extent(startBlock: Extent.sparseHole, numBlocks: Self.blocks(signaturesSize))]))
        manifest.newPartitionInfo = InstallInfo(size: UInt64(partition.count), hash: Digester.sha256(partition))

        let encoded = manifest.encoded()
        var hasher = Digester()
        let header = PayloadFormat.header(manifestSize: encoded.count)
        hasher.update(header)
        hasher.update(encoded)
        for blob in blobs { hasher.update(blob) }
        let digest = hasher.finalize()
        let signatures = try signingKeys.map { try $0.sign(digest) }

        var size: UInt64 = 0
        try AtomicFile.produce(output) { temporary in
            _ = FileManager.default.createFile(atPath: temporary.path, contents: nil)
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: header + encoded)
            for blob in blobs { try handle.write(contentsOf: blob) }
            if !signatures.isEmpty { try handle.write(contentsOf: Signatures(signatures).encoded()) }
            try handle.synchronize()
            size = try handle.offset()
        }
        return Result(digestToSign: digest, signed: !signatures.isEmpty, size: size, partitionSize: UInt64(partition.count))
    }

    struct Chunk {
        let type: InstallOperation.Kind
        let blob: [UInt8]
        let firstBlock: UInt64
        let blockCount: UInt64
    }

    static func blocks(_ bytes: UInt64) -> UInt64 { (bytes + UInt64(PayloadFormat.blockSize) - 1) / UInt64(PayloadFormat.blockSize) }

    /// 1 MiB chunks compressed in parallel, in offset order.
    static func chunks(of data: Data) throws -> [Chunk] {
        let count = (data.count + PayloadFormat.chunkSize - 1) / PayloadFormat.chunkSize
        let results = ChunkSlots(count: count)
        data.withUnsafeBytes { bytes in
            nonisolated(unsafe) let bytes = bytes
            DispatchQueue.concurrentPerform(iterations: count) { index in
                let start = index * PayloadFormat.chunkSize
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + PayloadFormat.chunkSize, bytes.count)])
                results.store(index, Swift.Result {
                    let compressed: [UInt8]
                    do { compressed = try Bzip2.compress(slice) } catch {
                        throw PayloadError("the chunk at byte \(start) \(error)")
                    }
                    let useCompressed = compressed.count < slice.count
                    return Chunk(type: useCompressed ? .replaceBZ : .replace, blob: useCompressed ? compressed : Array(slice),
                                 firstBlock: UInt64(start / PayloadFormat.blockSize), blockCount: blocks(UInt64(slice.count)))
                })
            }
        }
        return try results.values
    }
}

/// One slot per chunk, each written by exactly one worker of concurrentPerform.
private final class ChunkSlots: @unchecked Sendable {
    private var slots: [Swift.Result<PayloadGenerator.Chunk, any Error>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func store(_ index: Int, _ chunk: Swift.Result<PayloadGenerator.Chunk, any Error>) { lock.withLock { slots[index] = chunk } }
    var values: [PayloadGenerator.Chunk] { get throws { try slots.map { try $0!.get() } } }
}
