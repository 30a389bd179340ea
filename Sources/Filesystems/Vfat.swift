import Foundation
import Support

/// Writes a FAT32 image (the ESP) of `sizeBytes` at `image`, via a temporary file: `mkfs.vfat`,
/// then mtools (`mmd`, `mcopy`) copy `populateFrom` in. No mount. FAT has no owners, modes or
/// symlinks, so the tree may hold only directories and regular files; names that differ only in
/// case are rejected. Files keep their mtime when it is not after the epoch, everything else gets
/// the epoch. Throws `contentDoesNotFit` when the tree is too big.
public func makeVfat(image: URL, sizeBytes: UInt64, label: String, volumeID: UInt32,
                     populateFrom tree: URL?, clock: BuildClock) throws {
    guard !label.isEmpty, label.utf8.count <= 11, label.allSatisfy(\.isASCII) else {
        throw FilesystemError.invalidInput("FAT label '\(label)' must be 1 to 11 ASCII characters")
    }
    let plan = try tree.map { try VfatPlan(tree: $0, label: label, epoch: clock.epoch) }
    // dosfstools and mtools read SOURCE_DATE_EPOCH for times they would take from the clock;
    // mtools converts times through the local zone (FAT stores local time), hence TZ=UTC.
    let environment = ["SOURCE_DATE_EPOCH": String(clock.epoch), "TZ": "UTC", "MTOOLS_SKIP_CHECK": "1"]

    try AtomicFile.produce(image) { temporary in
        try createSparseFile(temporary, bytes: sizeBytes)
        // --invariant: mkfs.fat 4.2 stamps the volume-label entry with the wall clock even when
        // SOURCE_DATE_EPOCH is set; this fixes it (and its boot-sector times). -i still wins.
        let mkfs = try Command.run(["mkfs.vfat", "-F", "32", "-n", label, "-i", String(format: "%08X", volumeID),
                                    "--invariant", temporary.path], environment: environment)
        // Below ~33 MiB mkfs.fat only warns and writes a FAT32 with too few clusters, which
        // firmware may take for FAT16.
        if let warning = mkfs.standardError.split(separator: "\n").first(where: { $0.contains("suggested minimum") }) {
            throw FilesystemError.invalidInput("\(label): \(sizeBytes) bytes (\(mebibytes(sizeBytes))) is too small "
                                               + "for FAT32 (\(warning)); give it at least 33 MiB")
        }
        guard let plan else { return }
        let drive = temporary.path + "@@0"
        do {
            for batch in plan.directories.chunked(200) {
                try Command.run(["mmd", "-i", drive] + batch.map { "::/" + $0 }, environment: environment)
            }
            for copy in plan.copies {
                // No -b: mcopy's batch mode leaves fsck.fat errors behind (genimage #142, PR #151).
                for batch in copy.sources.chunked(200) {
                    try Command.run(["mcopy", "-i", drive, "-p", "-Q"] + (copy.keepModificationTime ? ["-m"] : [])
                                    + batch + ["::/" + copy.directory], environment: environment)
                }
            }
        } catch let failure as CommandFailure {
            guard let reason = toolLine(failure, matching: ["Disk full", "No free cluster", "Short write",
                                                              "No directory slots"]) else { throw failure }
            throw FilesystemError.contentDoesNotFit(label: label, imageBytes: sizeBytes,
                                                    content: plan.size, tool: reason)
        }
    }
}

/// The mtools calls that copy a tree, in a fixed order: `mcopy -s` would follow `readdir` order,
/// which differs between copies of the same tree (systemd PR #42446).
private struct VfatPlan {
    struct Copy {
        /// "" for the root, else the path with a trailing slash, as mcopy's target.
        var directory: String
        var keepModificationTime: Bool
        var sources: [String]
    }

    var directories: [String] = []
    var copies: [Copy] = []
    var size = TreeSize()

    init(tree: URL, label: String, epoch: Int) throws {
        var namesByDirectory: [String: [String: String]] = [:]
        var copyIndex: [String: Int] = [:]
        try FileTree.walk(tree) { entry in
            let parent = String(entry.path.dropLast(entry.name.count))
            if let clash = namesByDirectory[parent, default: [:]].updateValue(entry.path, forKey: entry.name.uppercased()) {
                throw FilesystemError.invalidInput("\(label): '\(clash)' and '\(entry.path)' in \(tree.path) differ only "
                                                   + "in case, which FAT cannot tell apart")
            }
            switch entry.kind {
            case .directory:
                directories.append(entry.path)
                size.directories += 1
            case .regular:
                size.files += 1
                size.contentBytes += entry.size
                let keep = entry.modificationTime <= epoch
                let source = tree.appendingPathComponent(entry.path).path
                let key = "\(keep) \(parent)"
                if let index = copyIndex[key] {
                    copies[index].sources.append(source)
                } else {
                    copyIndex[key] = copies.count
                    copies.append(Copy(directory: parent, keepModificationTime: keep, sources: [source]))
                }
            case .symlink, .other:
                throw FilesystemError.invalidInput("\(label): \(tree.path)/\(entry.path) is not a regular file or "
                                                   + "directory; FAT cannot hold symlinks or special files")
            }
        }
    }
}
