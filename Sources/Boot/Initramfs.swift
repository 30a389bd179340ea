import CArchive
import Foundation
import Support

/// The initramfs coresdk builds for every image: busybox, coreos-init's `/init` and helper, and
/// the kernel modules that reach the disk, dm-verity and /usr — a newc cpio, zstd-compressed,
/// written with libarchive (no cpio tool, no root: device nodes are just archive headers).
public struct Initramfs {
    /// Files the image must contain, by the recipe that provides them.
    public static let requiredFiles: [(path: String, recipe: String)] = [
        ("usr/lib/coreos-init/init", "coreos-init"),
        ("usr/lib/coreos-init/coreos-init-helper", "coreos-init"),
        ("usr/bin/busybox", "a recipe installing Debian's busybox-static"),
    ]

    public let rootfs: URL
    public let kernelVersion: String
    public let modules: [String]

    public init(rootfs: URL, kernelVersion: String, modules: [String]) {
        self.rootfs = rootfs
        self.kernelVersion = kernelVersion
        self.modules = modules
    }

    /// Writes the archive to `output` (via a temporary file) and returns the modules it holds, in load order.
    @discardableResult
    public func write(to output: URL, clock: BuildClock) throws -> [String] {
        for required in Self.requiredFiles {
            guard FileManager.default.fileExists(atPath: rootfs.appendingPathComponent(required.path).path) else {
                throw SupportError("the image has no /\(required.path), which the initramfs needs; add \(required.recipe) to the board's recipes")
            }
        }
        let moduleDirectory = "usr/lib/modules/\(kernelVersion)"
        let index = try KernelModules(directory: rootfs.appendingPathComponent(moduleDirectory))
        let closure = try index.closure(of: modules)

        var entries: [Entry] = ["bin", "dev", "etc", "lib", "lib/modules", "lib/modules/\(kernelVersion)",
                                "proc", "run", "sys", "sysroot", "tmp"].map { .directory($0) }
        entries.append(.characterDevice("dev/console", major: 5, minor: 1))
        entries.append(.file("init", source: rootfs.appendingPathComponent(Self.requiredFiles[0].path), mode: 0o755))
        entries.append(.file("bin/coreos-init-helper", source: rootfs.appendingPathComponent(Self.requiredFiles[1].path), mode: 0o755))
        entries.append(.file("bin/busybox", source: rootfs.appendingPathComponent(Self.requiredFiles[2].path), mode: 0o755))
        entries.append(.symlink("bin/sh", target: "busybox"))
        entries.append(.text("etc/initrd-release", "NAME=\"coreos-init\"\nID=coreos-init\n"))
        entries.append(.text("etc/initrd-modules", closure.map { $0.name + "\n" }.joined()))
        entries.append(.text("lib/modules/\(kernelVersion)/modules.dep", closure.map { $0.depLine + "\n" }.joined()))
        var directories: Set<String> = []
        for module in closure {
            var parent = (module.path as NSString).deletingLastPathComponent
            var missing: [String] = []
            while !parent.isEmpty, !directories.contains(parent) {
                directories.insert(parent)
                missing.insert("lib/modules/\(kernelVersion)/\(parent)", at: 0)
                parent = (parent as NSString).deletingLastPathComponent
            }
            entries += missing.map { .directory($0) }
            entries.append(.file("lib/modules/\(kernelVersion)/\(module.path)",
                                 source: index.directory.appendingPathComponent(module.path), mode: 0o644))
        }
        try AtomicFile.produce(output) { temporary in
            try CpioWriter(url: temporary, mtime: clock.epoch).write(entries)
        }
        return closure.map(\.name)
    }
}

/// One member of the archive.
enum Entry {
    case directory(String)
    case file(String, source: URL, mode: mode_t)
    case text(String, String)
    case symlink(String, target: String)
    case characterDevice(String, major: Int32, minor: Int32)

    var path: String {
        switch self {
        case .directory(let path), .file(let path, _, _), .text(let path, _), .symlink(let path, _),
             .characterDevice(let path, _, _):
            return path
        }
    }
}

/// libarchive's AE_IF* file types (macros with casts, which Swift does not import).
private enum FileType {
    static let directory: UInt32 = 0o040000
    static let regular: UInt32 = 0o100000
    static let symlink: UInt32 = 0o120000
    static let characterDevice: UInt32 = 0o020000
}

/// A newc cpio with zstd, every member root-owned with the build's mtime, inode numbers in
/// write order: the same entries give the same bytes.
final class CpioWriter {
    private let archive: OpaquePointer
    private let url: URL
    private let mtime: Int
    private var inode: Int64 = 0

    init(url: URL, mtime: Int) throws {
        guard let archive = archive_write_new() else { throw SupportError("libarchive: out of memory") }
        self.archive = archive
        self.url = url
        self.mtime = mtime
        try check(archive_write_set_format_cpio_newc(archive), "choosing the newc format")
        try check(archive_write_add_filter_zstd(archive), "adding zstd compression")
        try check(archive_write_open_filename(archive, url.path), "opening")
    }

    deinit { archive_write_free(archive) }

    func write(_ entries: [Entry]) throws {
        for entry in entries { try write(entry) }
        try check(archive_write_close(archive), "closing")
    }

    private func write(_ member: Entry) throws {
        guard let entry = archive_entry_new() else { throw SupportError("libarchive: out of memory") }
        defer { archive_entry_free(entry) }
        inode += 1
        archive_entry_set_pathname(entry, member.path)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_mtime(entry, time_t(mtime), 0)
        archive_entry_set_ino64(entry, inode)
        archive_entry_set_nlink(entry, 1)
        var data = Data()
        switch member {
        case .directory:
            archive_entry_set_filetype(entry, FileType.directory)
            archive_entry_set_perm(entry, 0o755)
            archive_entry_set_nlink(entry, 2)
        case .file(_, let source, let mode):
            data = try Data(contentsOf: source)
            archive_entry_set_filetype(entry, FileType.regular)
            archive_entry_set_perm(entry, mode)
        case .text(_, let text):
            data = Data(text.utf8)
            archive_entry_set_filetype(entry, FileType.regular)
            archive_entry_set_perm(entry, 0o644)
        case .symlink(_, let target):
            archive_entry_set_filetype(entry, FileType.symlink)
            archive_entry_set_perm(entry, 0o777)
            archive_entry_set_symlink(entry, target)
        case .characterDevice(_, let major, let minor):
            archive_entry_set_filetype(entry, FileType.characterDevice)
            archive_entry_set_perm(entry, 0o600)
            archive_entry_set_rdevmajor(entry, dev_t(major))
            archive_entry_set_rdevminor(entry, dev_t(minor))
        }
        archive_entry_set_size(entry, la_int64_t(data.count))
        try check(archive_write_header(archive, entry), "writing \(member.path)")
        if !data.isEmpty {
            let written = data.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
            guard written == data.count else { try check(ARCHIVE_FATAL, "writing data of \(member.path)"); return }
        }
    }

    private func check(_ status: Int32, _ doing: String) throws {
        guard status < ARCHIVE_WARN else { return }
        let reason = archive_error_string(archive).map { String(cString: $0) } ?? "error \(status)"
        throw SupportError("libarchive: \(doing) \(url.lastPathComponent): \(reason)")
    }
}
