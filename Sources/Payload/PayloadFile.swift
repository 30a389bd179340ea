import Posix

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

    public static func header(manifestSize: Int) -> [UInt8] {
        magic + bigEndian(version) + bigEndian(UInt64(manifestSize))
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(value >> (8 * UInt64($0)) & 0xFF) } }
}

/// A payload, key or signature that cannot be used, with the file (and key) concerned.
public struct PayloadError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let file: String?
    public let key: String?

    public init(file: String? = nil, key: String? = nil, _ message: String) {
        self.message = message
        self.file = file
        self.key = key
    }

    public var description: String { file.map { "\($0): \(message)" } ?? message }
}

/// A payload read from a file: its parts located, nothing trusted yet.
public struct PayloadFile {
    public let path: String
    public let manifest: DeltaArchiveManifest
    public let manifestSize: Int
    public let fileSize: UInt64
    private let file: SystemFile

    public var blobStart: UInt64 { UInt64(PayloadFormat.headerSize + manifestSize) }
    /// Where the signed bytes end: the Signatures blob starts here.
    public var signedLength: UInt64? { manifest.signaturesOffset.map { blobStart + $0 } }

    public init(path: String) throws {
        self.path = path
        do {
            file = try SystemFile(path)
            fileSize = try file.size
        } catch { throw PayloadError(file: path, "cannot open the payload: \(error.reason)") }
        let header = try file.read(count: PayloadFormat.headerSize, at: 0)
        guard header.count == PayloadFormat.headerSize, Array(header.prefix(4)) == PayloadFormat.magic else {
            throw PayloadError(file: path, "not an update payload (no CrAU header)")
        }
        let version = header[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard version == PayloadFormat.version else {
            throw PayloadError(file: path, "payload format version \(version); only version 1 is supported")
        }
        let size = header[12..<20].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard size <= fileSize - UInt64(PayloadFormat.headerSize), size < 64 << 20 else {
            throw PayloadError(file: path, "the manifest is said to be \(size) bytes, more than the file holds (truncated?)")
        }
        manifestSize = Int(size)
        let bytes = try file.read(count: manifestSize, at: UInt64(PayloadFormat.headerSize))
        do {
            manifest = try DeltaArchiveManifest(decoding: bytes[...])
        } catch {
            throw PayloadError(file: path, "the manifest does not parse: \(error)")
        }
    }

    /// `length` bytes of the blob area at `offset`.
    public func blob(offset: UInt64, length: Int) throws -> [UInt8] {
        let bytes = try file.read(count: length, at: blobStart + offset)
        guard bytes.count == length else { throw PayloadError(file: path, "truncated: a blob at \(offset) is cut short") }
        return bytes
    }

    /// The digest of the file's first `length` bytes.
    public func digest(ofFirst length: UInt64, _ algorithm: Digester.Algorithm = .sha256) throws -> [UInt8] {
        var digester = Digester(algorithm)
        var offset: UInt64 = 0
        while offset < length {
            let chunk = try file.read(count: Int(min(length - offset, 4 << 20)), at: offset)
            guard !chunk.isEmpty else { throw PayloadError(file: path, "truncated") }
            digester.update(chunk)
            offset += UInt64(chunk.count)
        }
        return digester.finalize()
    }

    /// VERSION_ID of the os-release the payload carries, if it carries one.
    public var osReleaseVersion: String? {
        guard let procedure = manifest.procedures.first(where: { $0.type == .osRelease }), let info = procedure.newInfo,
              let bytes = try? PayloadVerifier(self).rebuildFile(procedure.operations, expected: info, what: "os-release") else { return nil }
        return KeyValueFile(String(decoding: bytes, as: UTF8.self), path: "os-release")["VERSION_ID"]
    }
}

/// A file of `KEY=VALUE` lines as systemd's EnvironmentFile= and update_engine read them (os-release,
/// update.conf): `#` comments, blank lines, values optionally in single or double quotes.
public struct KeyValueFile: Sendable {
    public private(set) var values: [(key: String, value: String)] = []
    /// Lines that are not KEY=VALUE, as "file:line: reason".
    public private(set) var warnings: [String] = []

    public init(_ text: String, path: String) {
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "="), equals != line.startIndex,
                  line[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                warnings.append("\(path):\(index + 1): not KEY=VALUE, ignored")
                continue
            }
            var value = line[line.index(after: equals)...]
            while let last = value.last, last == " " || last == "\t" || last == "\r" { value = value.dropLast() }
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = value.dropFirst().dropLast()
            }
            values.append((String(line[..<equals]), String(value)))
        }
    }

    /// The first value of `key`.
    public subscript(key: String) -> String? { values.first { $0.key == key }?.value }
}
