import Foundation
import Support

/// An ext4 filesystem (ROOT, OEM) written into a plain file by `mke2fs -d`: no mount, no root
/// tricks, and byte-identical output for the same tree, label, UUIDs and epoch.
public struct Ext4Builder: Sendable, Equatable {
    public var label: String
    public var uuid: String
    public var hashSeed: String
    public var clock: BuildClock

    public init(label: String, uuid: String, hashSeed: String, clock: BuildClock) {
        self.label = label
        self.uuid = uuid
        self.hashSeed = hashSeed
        self.clock = clock
    }

    /// Writes a `sizeBytes` ext4 image to `image` (via a temporary file), holding a copy of
    /// `tree` with its owners, modes, symlinks and hard links; the root directory is owned by 0:0.
    /// Timestamps are clamped to the epoch. Throws `contentDoesNotFit` if the tree is too big.
    public func build(image: URL, sizeBytes: UInt64, populateFrom tree: URL?) throws {
        guard !label.isEmpty, label.utf8.count <= 16 else {
            throw FilesystemError.invalidInput("ext4 label '\(label)' must be 1 to 16 bytes")
        }
        let uuid = try canonicalUUID(uuid, what: "\(label): filesystem UUID")
        let hashSeed = try canonicalUUID(hashSeed, what: "\(label): directory hash seed")
        if let tree { try requireDirectory(tree, for: "\(label) content") }
        // e2fsprogs reads E2FSPROGS_FAKE_TIME as seconds since the epoch (not YYYYMMDDhhmmss)
        // for every time it would take from the clock: superblock times, crtime, lost+found.
        let environment = ["E2FSPROGS_FAKE_TIME": String(clock.epoch)]

        try AtomicFile.produce(image) { temporary in
            try createSparseFile(temporary, bytes: sizeBytes)
            var arguments = ["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-L", label, "-U", uuid,
                             "-E", "hash_seed=\(hashSeed),root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0"]
            if let tree { arguments += ["-d", tree.path] }
            do {
                try Command.run(arguments + [temporary.path], environment: environment)
            } catch let failure as CommandFailure {
                let noSpace = ["Could not allocate", "No space left", "while populating"]
                guard let tree, let reason = toolLine(failure, matching: noSpace) else { throw failure }
                throw FilesystemError.contentDoesNotFit(label: label, imageBytes: sizeBytes,
                                                        content: try TreeSize.measure(tree), tool: reason)
            }
            if let tree {
                try clampTimestamps(image: temporary, tree: tree, environment: environment)
            }
        }
    }

    /// `mke2fs -d` copies each file's mtime, atime and ctime from the tree. atime changes when a
    /// build reads the file and ctime whenever the tree is copied, so two builds of one tree
    /// differ; debugfs rewrites them: mtime clamped to the epoch, atime and ctime equal to it.
    private func clampTimestamps(image: URL, tree: URL, environment: [String: String]) throws {
        var script = ""
        func add(_ path: String, modificationTime: Int) throws {
            guard !path.contains("\n") else {
                throw FilesystemError.invalidInput("\(label): cannot store '\(path)': file names with a newline are not supported")
            }
            // debugfs (libss) takes a double-quoted argument with "" for a literal quote.
            let quoted = "\"/" + path.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            let clamped = min(modificationTime, clock.epoch)
            // "@": debugfs reads a bare number as YYYYMMDDhhmmss when it can (981173106 → 2189).
            if modificationTime != clamped { script += "sif \(quoted) mtime @\(clamped)\n" }
            script += "sif \(quoted) atime @\(clamped)\nsif \(quoted) ctime @\(clamped)\n"
        }
        try add("", modificationTime: try FileTree.rootEntry(tree).modificationTime)
        try FileTree.walk(tree) { try add($0.path, modificationTime: $0.modificationTime) }

        let scriptFile = AtomicFile.temporarySibling(of: image.appendingPathExtension("debugfs"))
        defer { try? FileManager.default.removeItem(at: scriptFile) }
        try Data(script.utf8).write(to: scriptFile)
        let output = try Command.run(["debugfs", "-w", "-f", scriptFile.path, image.path], environment: environment)
        // debugfs exits 0 even when a command fails; anything but its banner on stderr is a failure.
        let problems = output.standardError.split(separator: "\n").filter { !$0.hasPrefix("debugfs ") }
        guard problems.isEmpty else {
            throw FilesystemError.invalidInput("\(label): setting timestamps with debugfs failed: "
                                               + problems.prefix(5).joined(separator: "; "))
        }
    }
}

/// Writes an ext4 image of `sizeBytes` at `image`; see `Ext4Builder.build`.
public func makeExt4(image: URL, sizeBytes: UInt64, label: String, uuid: String, hashSeed: String,
                     populateFrom: URL?, clock: BuildClock) throws {
    try Ext4Builder(label: label, uuid: uuid, hashSeed: hashSeed, clock: clock)
        .build(image: image, sizeBytes: sizeBytes, populateFrom: populateFrom)
}
