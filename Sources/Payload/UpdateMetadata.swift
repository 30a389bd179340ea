/// The messages of CoreOS/Flatcar's update_metadata.proto (package chromeos_update_engine, proto2),
/// with their field numbers (specs/update-payload-omaha.md §2). `proto/update_metadata.proto`
/// is the same schema for protoc.
public struct Extent: Sendable, Equatable {
    /// `UInt64.max` is a sparse hole: nothing is written.
    public var startBlock: UInt64
    public var numBlocks: UInt64

    public init(startBlock: UInt64, numBlocks: UInt64) {
        self.startBlock = startBlock
        self.numBlocks = numBlocks
    }

    public static let sparseHole = UInt64.max
}

public struct InstallOperation: Sendable, Equatable {
    public enum Kind: UInt64, Sendable { case replace = 0, replaceBZ = 1, move = 2, bsdiff = 3 }

    public var type: Kind
    public var dataOffset: UInt32?
    public var dataLength: UInt32?
    public var dstExtents: [Extent] = []
    /// SHA-256 of the blob as stored (compressed for REPLACE_BZ).
    public var dataSHA256: [UInt8]?

    public init(type: Kind, dataOffset: UInt32? = nil, dataLength: UInt32? = nil, dstExtents: [Extent] = [],
                dataSHA256: [UInt8]? = nil) {
        self.type = type
        self.dataOffset = dataOffset
        self.dataLength = dataLength
        self.dstExtents = dstExtents
        self.dataSHA256 = dataSHA256
    }

    func encode(_ writer: inout ProtobufWriter) {
        writer.varint(1, type.rawValue)
        if let dataOffset { writer.varint(2, UInt64(dataOffset)) }
        if let dataLength { writer.varint(3, UInt64(dataLength)) }
        for extent in dstExtents {
            writer.message(6) { $0.varint(1, extent.startBlock); $0.varint(2, extent.numBlocks) }
        }
        if let dataSHA256 { writer.bytes(8, dataSHA256) }
    }

    init(decoding data: ArraySlice<UInt8>) throws {
        var reader = ProtobufReader(data)
        var type: Kind?
        while let (field, value) = try reader.next() {
            switch field {
            case 1:
                let raw = try value.integer("InstallOperation.type")
                guard let kind = Kind(rawValue: raw) else { throw ProtobufError(description: "unknown operation type \(raw)") }
                type = kind
            case 2: dataOffset = UInt32(truncatingIfNeeded: try value.integer("data_offset"))
            case 3: dataLength = UInt32(truncatingIfNeeded: try value.integer("data_length"))
            case 4: throw ProtobufError(description: "src_extents: only full payloads are supported")
            case 6:
                var extentReader = ProtobufReader(try value.data("dst_extents"))
                var extent = Extent(startBlock: 0, numBlocks: 0)
                while let (extentField, extentValue) = try extentReader.next() {
                    if extentField == 1 { extent.startBlock = try extentValue.integer("start_block") }
                    if extentField == 2 { extent.numBlocks = try extentValue.integer("num_blocks") }
                }
                dstExtents.append(extent)
            case 8: dataSHA256 = Array(try value.data("data_sha256_hash"))
            default: continue
            }
        }
        guard let type else { throw ProtobufError(description: "InstallOperation without its required type") }
        self.type = type
    }
}

/// InstallInfo (PartitionInfo in ChromeOS): size and SHA-256 of a partition image or a file.
public struct InstallInfo: Sendable, Equatable {
    public var size: UInt64
    public var hash: [UInt8]

    public init(size: UInt64, hash: [UInt8]) {
        self.size = size
        self.hash = hash
    }

    func encode(_ writer: inout ProtobufWriter) {
        writer.varint(1, size)
        writer.bytes(2, hash)
    }

    init(decoding data: ArraySlice<UInt8>) throws {
        var reader = ProtobufReader(data)
        size = 0
        hash = []
        while let (field, value) = try reader.next() {
            if field == 1 { size = try value.integer("size") }
            if field == 2 { hash = Array(try value.data("hash")) }
        }
    }
}

public struct InstallProcedure: Sendable, Equatable {
    /// KERNEL and PCR_POLICY are CoreOS's. coresdk adds the slot's initramfs and kernel command line,
    /// which its bootloader loads beside the kernel, and the new /usr's os-release, which says what
    /// the payload installs; update_engine skips procedure types it does not know.
    public enum Kind: UInt64, Sendable { case kernel = 0, pcrPolicy = 1, initrd = 100, commandLine = 101, osRelease = 102 }

    public var type: Kind?
    public var operations: [InstallOperation] = []
    public var newInfo: InstallInfo?

    public init(type: Kind?, operations: [InstallOperation] = [], newInfo: InstallInfo? = nil) {
        self.type = type
        self.operations = operations
        self.newInfo = newInfo
    }

    func encode(_ writer: inout ProtobufWriter) {
        if let type { writer.varint(1, type.rawValue) }
        for operation in operations { writer.message(2) { operation.encode(&$0) } }
        if let newInfo { writer.message(4) { newInfo.encode(&$0) } }
    }

    init(decoding data: ArraySlice<UInt8>) throws {
        var reader = ProtobufReader(data)
        while let (field, value) = try reader.next() {
            switch field {
            case 1: type = Kind(rawValue: try value.integer("InstallProcedure.type"))
            case 2: operations.append(try InstallOperation(decoding: try value.data("operations")))
            case 4: newInfo = try InstallInfo(decoding: try value.data("new_info"))
            default: continue
            }
        }
    }
}

public struct DeltaArchiveManifest: Sendable, Equatable {
    public var partitionOperations: [InstallOperation] = []
    public var noopOperations: [InstallOperation] = []
    public var blockSize: UInt32 = 4096
    public var signaturesOffset: UInt64?
    public var signaturesSize: UInt64?
    public var newPartitionInfo: InstallInfo?
    public var procedures: [InstallProcedure] = []

    public init() {}

    public func encoded() -> [UInt8] {
        var writer = ProtobufWriter()
        for operation in partitionOperations { writer.message(1) { operation.encode(&$0) } }
        for operation in noopOperations { writer.message(2) { operation.encode(&$0) } }
        writer.varint(3, UInt64(blockSize))
        if let signaturesOffset { writer.varint(4, signaturesOffset) }
        if let signaturesSize { writer.varint(5, signaturesSize) }
        if let newPartitionInfo { writer.message(9) { newPartitionInfo.encode(&$0) } }
        for procedure in procedures { writer.message(10) { procedure.encode(&$0) } }
        return writer.bytes
    }

    public init(decoding data: ArraySlice<UInt8>) throws {
        var reader = ProtobufReader(data)
        while let (field, value) = try reader.next() {
            switch field {
            case 1: partitionOperations.append(try InstallOperation(decoding: try value.data("partition_operations")))
            case 2: noopOperations.append(try InstallOperation(decoding: try value.data("noop_operations")))
            case 3: blockSize = UInt32(truncatingIfNeeded: try value.integer("block_size"))
            case 4: signaturesOffset = try value.integer("signatures_offset")
            case 5: signaturesSize = try value.integer("signatures_size")
            case 8: throw ProtobufError(description: "old_partition_info: delta payloads are not supported")
            case 9: newPartitionInfo = try InstallInfo(decoding: try value.data("new_partition_info"))
            case 10: procedures.append(try InstallProcedure(decoding: try value.data("procedures")))
            default: continue
            }
        }
    }
}

/// The Signatures blob: the last entry has version 2, the one clients verify (§3.2).
public struct Signatures: Sendable, Equatable {
    public var signatures: [(version: UInt32, data: [UInt8])]

    public init(_ signatures: [[UInt8]]) {
        let count = signatures.count
        self.signatures = signatures.enumerated().map { (UInt32(3 - count + $0.offset), $0.element) }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.signatures.elementsEqual(b.signatures) { $0.version == $1.version && $0.data == $1.data }
    }

    public func encoded() -> [UInt8] {
        var writer = ProtobufWriter()
        for signature in signatures {
            writer.message(1) { $0.varint(1, UInt64(signature.version)); $0.bytes(2, signature.data) }
        }
        return writer.bytes
    }

    public init(decoding data: ArraySlice<UInt8>) throws {
        var reader = ProtobufReader(data)
        signatures = []
        while let (field, value) = try reader.next() {
            guard field == 1 else { continue }
            var inner = ProtobufReader(try value.data("signatures"))
            var version: UInt32 = 0
            var bytes: [UInt8] = []
            while let (innerField, innerValue) = try inner.next() {
                if innerField == 1 { version = UInt32(truncatingIfNeeded: try innerValue.integer("version")) }
                if innerField == 2 { bytes = Array(try innerValue.data("data")) }
            }
            signatures.append((version, bytes))
        }
    }

    /// Bytes the blob takes for `count` signatures of `signatureSize` bytes (264 each for RSA-2048).
    public static func encodedSize(count: Int, signatureSize: Int) -> Int {
        Signatures(Array(repeating: [UInt8](repeating: 0, count: signatureSize), count: count)).encoded().count
    }
}
