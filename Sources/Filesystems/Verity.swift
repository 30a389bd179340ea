import Foundation
import Support

/// Where a dm-verity hash tree was put and what it hashes to: the facts the kernel command line
/// (`verity.usrhash=`) and the initramfs (`--hash-offset`) need.
public struct VerityResult: Sendable, Equatable, Codable {
    public var rootHash: String
    public var salt: String
    /// Byte offset of the verity superblock, right after the (4096-rounded) data area.
    public var hashOffset: UInt64
    public var dataBlocks: UInt64
    /// Superblock plus hash tree.
    public var hashBytes: UInt64
    /// `hashOffset + hashBytes`: the least the partition must hold.
    public var totalBytes: UInt64
}

/// dm-verity for /usr as CoreOS lays it out (spec §6): a sha256 tree with 4 KiB blocks appended to
/// the same file right after the filesystem. veritysetup format/verify work on regular files in
/// user space; no loop device and no root.
public enum Verity {
    static let blockSize: UInt64 = 4096

    /// Appends the superblock and hash tree to `image`, whose first `dataBytes` are the filesystem
    /// (the data area is rounded up to 4096 with zeros). `salt` is hex; fixed salt and `uuid` make
    /// the tree reproducible. The data area is never written; on failure the file is cut back to
    /// its old length.
    public static func format(image: URL, dataBytes: UInt64, salt: String, uuid: String) throws -> VerityResult {
        let salt = salt.lowercased()
        guard !salt.isEmpty, salt.count % 2 == 0, salt.count <= 512, salt.allSatisfy(\.isHexDigit) else {
            throw FilesystemError.invalidInput("verity salt '\(salt)' must be 1 to 256 bytes written as hex digits")
        }
        let uuid = try canonicalUUID(uuid, what: "verity UUID")
        let hashOffset = (dataBytes + blockSize - 1) / blockSize * blockSize
        let originalBytes = try fileSize(image)
        guard originalBytes <= hashOffset, dataBytes > 0 else {
            throw FilesystemError.invalidInput("\(image.path) is \(originalBytes) bytes but its data area is \(dataBytes); "
                                               + "pass the filesystem's size, and format a freshly built image only once")
        }
        do {
            guard truncate(image.path, off_t(hashOffset)) == 0 else {
                throw FilesystemError.invalidInput("cannot pad \(image.path) to \(hashOffset) bytes: \(String(cString: strerror(errno)))")
            }
            let output = try Command.run(["veritysetup", "format", "--hash=sha256",
                                          "--data-block-size", String(blockSize), "--hash-block-size", String(blockSize),
                                          "--data-blocks", String(hashOffset / blockSize), "--hash-offset", String(hashOffset),
                                          "--salt", salt, "--uuid", uuid, image.path, image.path])
            guard let rootHash = output.text.split(separator: "\n")
                .first(where: { $0.hasPrefix("Root hash:") })?
                .split(separator: " ", omittingEmptySubsequences: true).last
                .map({ String($0).trimmingCharacters(in: .whitespaces) }),
                rootHash.count == 64 else {
                throw FilesystemError.invalidInput("veritysetup format printed no root hash for \(image.path):\n\(output.text)")
            }
            let totalBytes = try fileSize(image)
            return VerityResult(rootHash: rootHash, salt: salt, hashOffset: hashOffset,
                                dataBlocks: hashOffset / blockSize, hashBytes: totalBytes - hashOffset,
                                totalBytes: totalBytes)
        } catch {
            _ = truncate(image.path, off_t(originalBytes))
            throw error
        }
    }

    /// Re-hashes every data block of `image` in user space and compares with `result.rootHash`;
    /// throws `verityMismatch` naming the first bad position.
    public static func verify(image: URL, result: VerityResult) throws {
        do {
            try Command.run(["veritysetup", "verify", "--hash-offset", String(result.hashOffset),
                             image.path, image.path, result.rootHash])
        } catch let failure as CommandFailure {
            // "Verification failed at position N." or "Verification of root hash failed."
            guard failure.standardError.contains("Verification") else { throw failure }
            let detail = failure.standardError.split(separator: "\n").joined(separator: "; ")
            throw FilesystemError.verityMismatch(image: image.path, detail: detail)
        }
    }
}
