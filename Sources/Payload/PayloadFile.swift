import Crypto
import Foundation
import Support

/// A CrAU major-version-1 payload's layout (§1.1): `CrAU`, version 1 and the manifest size as
/// big-endian uint64s, the manifest, the data blobs, then the Signatures blob.
public enum PayloadFormat {
    public static let magic = Array("CrAU".utf8)
    public static let version: UInt64 = 1
    public static let headerSize = 20
    public static let blockSize = 4096
    public static let chunkSize = 1 << 20
    /// RSA-2048 signatures; 264 bytes each in the Signatures blob.
    public static let signatureSize = 256

    static func header(manifestSize: Int) -> [UInt8] {
        magic + bigEndian(version) + bigEndian(UInt64(manifestSize))
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(value >> (8 * UInt64($0)) & 0xFF) } }
}

/// A payload, key or signature that cannot be used, with the file (and key) concerned.
public struct PayloadError: ReportableError, Sendable {
    public let details: ErrorDetails

    public init(file: String? = nil, key: String? = nil, _ message: String) {
        details = ErrorDetails(message: message, file: file, key: key)
    }
}

/// A payload read from a file: its parts located, nothing trusted yet.
public struct PayloadFile {
    public let url: URL
    public let manifest: DeltaArchiveManifest
    public let manifestSize: Int
    public let fileSize: UInt64
    private let handle: FileHandle

    public var blobStart: UInt64 { UInt64(PayloadFormat.headerSize + manifestSize) }
    /// Where the signed bytes end: the Signatures blob starts here.
    public var signedLength: UInt64? { manifest.signaturesOffset.map { blobStart + $0 } }

    public init(_ url: URL) throws {
        self.url = url
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw PayloadError(file: url.path, "cannot open the payload") }
        self.handle = handle
        fileSize = try handle.seekToEnd()
        try handle.seek(toOffset: 0)
        let header = [UInt8](try handle.read(upToCount: PayloadFormat.headerSize) ?? Data())
        guard header.count == PayloadFormat.headerSize, Array(header.prefix(4)) == PayloadFormat.magic else {
            throw PayloadError(file: url.path, "not an update payload (no CrAU header)")
        }
        let version = header[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard version == PayloadFormat.version else {
            throw PayloadError(file: url.path, "payload format version \(version); only version 1 is supported")
        }
        let size = header[12..<20].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard size <= fileSize - UInt64(PayloadFormat.headerSize), size < 64 << 20 else {
            throw PayloadError(file: url.path, "the manifest is said to be \(size) bytes, more than the file holds (truncated?)")
        }
        manifestSize = Int(size)
        let bytes = [UInt8](try handle.read(upToCount: manifestSize) ?? Data())
        do {
            manifest = try DeltaArchiveManifest(decoding: bytes[...])
        } catch {
            throw PayloadError(file: url.path, "the manifest does not parse: \(error)")
        }
    }

    /// `length` bytes of the blob area at `offset`.
    public func blob(offset: UInt64, length: Int) throws -> [UInt8] {
        try handle.seek(toOffset: blobStart + offset)
        let bytes = [UInt8](try handle.read(upToCount: length) ?? Data())
        guard bytes.count == length else { throw PayloadError(file: url.path, "truncated: a blob at \(offset) is cut short") }
        return bytes
    }

    /// SHA-256 of the file's first `length` bytes.
    public func sha256(ofFirst length: UInt64) throws -> SHA256Digest {
        try handle.seek(toOffset: 0)
        var hasher = SHA256()
        var remaining = length
        while remaining > 0 {
            let chunk = try handle.read(upToCount: Int(min(remaining, 4 << 20))) ?? Data()
            guard !chunk.isEmpty else { throw PayloadError(file: url.path, "truncated") }
            hasher.update(data: chunk)
            remaining -= UInt64(chunk.count)
        }
        return hasher.finalize()
    }
}
