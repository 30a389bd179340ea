import Foundation
import Support

/// Changes single files inside an ext4 image with debugfs: no mount, no root, and only the blocks
/// the change needs are touched. debugfs exits 0 even when a request fails, so every change is read
/// back and the filesystem checked before it counts.
public struct Ext4Editor: Sendable {
    public let image: URL

    public init(image: URL) { self.image = image }

    /// The filesystem's label, or nil when the image is not ext2/3/4.
    public func label() throws -> String? {
        guard let output = try? Command.run(["blkid", "-p", "-o", "export", image.path]) else { return nil }
        let fields = Dictionary(output.text.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }, uniquingKeysWith: { first, _ in first })
        guard let type = fields["TYPE"], ["ext2", "ext3", "ext4"].contains(type) else { return nil }
        return fields["LABEL"] ?? ""
    }

    /// Replaces (or creates) the file at absolute `path` in the root directory with `contents`.
    public func replaceFile(_ path: String, with contents: Data, mode: UInt32, owner: (uid: UInt32, gid: UInt32) = (0, 0),
                            modificationTime: Int64) throws {
        guard path.hasPrefix("/"), !path.dropFirst().contains("/"), !path.contains(where: \.isWhitespace) else {
            throw FilesystemError.invalidInput("\(path): only files in the filesystem's root directory are replaced")
        }
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-ext4-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: source) }
        try contents.write(to: source)
        let time = "@\(modificationTime)"
        let requests = ["rm \(path)", "write \(source.path) \(path)",
                        "set_inode_field \(path) mode 0\(String(0o100000 | mode, radix: 8))",
                        "set_inode_field \(path) uid \(owner.uid)", "set_inode_field \(path) gid \(owner.gid)"]
            + ["atime", "mtime", "ctime", "crtime"].map { "set_inode_field \(path) \($0) \(time)" }
        // The superblock's write time comes from the clock unless faked: same input, same bytes.
        try debugfs(writable: true, requests, environment: ["E2FSPROGS_FAKE_TIME": String(modificationTime)])
        guard try readFile(path) == contents else {
            throw FilesystemError.invalidInput("\(image.path): writing \(path) failed (is the filesystem full?)")
        }
        try check()
    }

    /// The file's bytes, or nil when it does not exist.
    public func readFile(_ path: String) throws -> Data? {
        // -R, not -f: with a script debugfs echoes each request into the output.
        let listing = try Command.run(["debugfs", "-R", "stat \(path)", image.path])
        if listing.standardError.contains("File not found") { return nil }
        return try Command.run(["debugfs", "-R", "cat \(path)", image.path]).standardOutput
    }

    /// `e2fsck -fn`: throws when the filesystem has any problem.
    public func check() throws {
        do {
            try Command.run(["e2fsck", "-fn", image.path])
        } catch let failure as CommandFailure {
            throw FilesystemError.invalidInput("\(image.path): e2fsck found problems:\n\(failure.standardError)")
        }
    }

    private func debugfs(writable: Bool, _ requests: [String], environment: [String: String] = [:]) throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-debugfs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: script) }
        try Data((requests.joined(separator: "\n") + "\n").utf8).write(to: script)
        try Command.run(["debugfs"] + (writable ? ["-w"] : []) + ["-f", script.path, image.path], environment: environment)
    }
}
