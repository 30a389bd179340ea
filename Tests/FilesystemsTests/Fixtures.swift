import Foundation
import Support
import TestSupport
import XCTest

@testable import Filesystems

/// 2023-11-14 22:13:20 UTC.
let testClock = BuildClock(epoch: 1_700_000_000)
/// 2001-02-03 04:05:06 UTC, a time before the epoch that builders must keep.
let oldTime = 981_173_106
/// After the epoch: builders must clamp it.
let futureTime = 1_800_000_000

/// A scratch directory removed after the test.

/// Builds a tree entry by entry with exact owners, modes and times (the tests run as root).
struct TreeWriter {
    let root: URL

    init(_ root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try times("", modified: oldTime)
    }

    func directory(_ path: String, mode: mode_t = 0o755, owner: (uid_t, gid_t) = (0, 0)) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try attributes(path, mode: mode, owner: owner, modified: oldTime)
    }

    func file(_ path: String, _ contents: String, mode: mode_t = 0o644, owner: (uid_t, gid_t) = (0, 0),
              modified: Int = oldTime) throws {
        try file(path, Data(contents.utf8), mode: mode, owner: owner, modified: modified)
    }

    func file(_ path: String, _ contents: Data, mode: mode_t = 0o644, owner: (uid_t, gid_t) = (0, 0),
              modified: Int = oldTime) throws {
        try contents.write(to: root.appendingPathComponent(path))
        try attributes(path, mode: mode, owner: owner, modified: modified)
    }

    func symlink(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent(path).path,
                                                   withDestinationPath: target)
    }

    func hardLink(_ path: String, to existing: String) throws {
        try FileManager.default.linkItem(at: root.appendingPathComponent(existing),
                                         to: root.appendingPathComponent(path))
    }

    func times(_ path: String, modified: Int) throws {
        var stamps = [timespec(tv_sec: modified, tv_nsec: 123), timespec(tv_sec: modified, tv_nsec: 456)]
        guard utimensat(AT_FDCWD, root.appendingPathComponent(path).path, &stamps, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw SupportError("utimensat \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func attributes(_ path: String, mode: mode_t, owner: (uid_t, gid_t), modified: Int) throws {
        let full = root.appendingPathComponent(path).path
        // chown before chmod: chown clears set-uid bits.
        guard chown(full, owner.0, owner.1) == 0, chmod(full, mode) == 0 else {
            throw SupportError("chown/chmod \(path): \(String(cString: strerror(errno)))")
        }
        try times(path, modified: modified)
    }
}

/// A small root filesystem: owners, a set-uid binary, a private directory, a symlink, a hard link,
/// an empty directory, and one file newer than the epoch.
func makeRootTree(at root: URL) throws {
    let tree = try TreeWriter(root)
    try tree.directory("bin")
    try tree.file("bin/tool", "#!/bin/sh\necho tool\n", mode: 0o4755)
    try tree.hardLink("bin/tool-again", to: "bin/tool")
    try tree.directory("etc", mode: 0o750, owner: (0, 27))
    try tree.file("etc/hostname", "coreos\n", mode: 0o640, owner: (1000, 1001))
    try tree.file("etc/fresh", "written after the epoch\n", modified: futureTime)
    try tree.directory("lib")
    try tree.file("lib/libdemo.so.1", String(repeating: "compressible library text\n", count: 4000))
    try tree.symlink("lib/libdemo.so", to: "libdemo.so.1")
    try tree.directory("home/core", mode: 0o700, owner: (500, 500))
    try tree.times("home", modified: oldTime)
    try tree.times("etc", modified: futureTime)
}

/// An ESP: directories and regular files only.
func makeESPTree(at root: URL) throws {
    let tree = try TreeWriter(root)
    try tree.directory("EFI/BOOT")
    try tree.times("EFI", modified: oldTime)
    try tree.file("EFI/BOOT/BOOTX64.EFI", Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
    try tree.directory("coreos")
    try tree.file("coreos/vmlinuz-a", Data(repeating: 0x5A, count: 300_000))
    try tree.file("coreos/a long file name.conf", "title CoreOS A\n", modified: futureTime)
    try tree.directory("loader/entries")
    try tree.times("loader", modified: oldTime)
    try tree.file("loader/entries/coreos-a.conf", "linux /coreos/vmlinuz-a\n")
}

/// mode, owner, mtime and ctime of every entry: a tree a builder must leave as it found it.
func treeFingerprint(_ root: URL) throws -> String {
    try Command.run(["find", root.path, "-printf", "%P %m %U:%G %T@ %C@ %s\\n"]).text
}

func sh(_ arguments: String...) throws -> String {
    try Command.run(arguments).text
}

private func copyTree(_ source: URL, to destination: URL) throws {
    try Command.run(["cp", "-a", source.path, destination.path])
}

private func readEveryFile(in root: URL) throws {
    try Command.run(["sh", "-c", "find \"$0\" -type f -exec cat {} + >/dev/null", root.path])
}

func assertSameBytes(_ first: URL, _ second: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    let a = try Digests.sha256(file: first), b = try Digests.sha256(file: second)
    XCTAssertEqual(a, b, "\(first.lastPathComponent) and \(second.lastPathComponent) differ", file: file, line: line)
}

/// Builds an image from a fresh tree, then, `pause` seconds later, from a `cp -a` copy whose files
/// have all been read (new inodes, ctimes and atimes, as a real rebuild sees), and asserts the two
/// images are byte-identical.
func assertRebuildFromACopyIsByteIdentical(makeTree: (URL) throws -> Void = makeRootTree, pause: UInt32 = 0,
                                           file: StaticString = #filePath, line: UInt = #line,
                                           build: (_ image: URL, _ tree: URL) throws -> Void) throws {
    let scratch = try Scratch()
    try makeTree(scratch.path("tree"))
    try build(scratch.path("first.img"), scratch.path("tree"))
    sleep(pause)
    try copyTree(scratch.path("tree"), to: scratch.path("copy"))
    try readEveryFile(in: scratch.path("copy"))
    try build(scratch.path("second.img"), scratch.path("copy"))
    try assertSameBytes(scratch.path("first.img"), scratch.path("second.img"), file: file, line: line)
}

/// Asserts `body` throws `contentDoesNotFit` whose message starts "LABEL: content needs more than
/// N bytes", and that nothing, not even a temporary file, is left in `scratch`.
func assertDoesNotFit(label: String, imageBytes: UInt64, scratch: Scratch, expectedNames: [String],
                      file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) throws {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard case .contentDoesNotFit = error as? FilesystemError else {
            return XCTFail("expected contentDoesNotFit, got \(error)", file: file, line: line)
        }
        XCTAssertTrue("\(error)".hasPrefix("\(label): content needs more than \(imageBytes) bytes"),
                      "\(error)", file: file, line: line)
    }
    XCTAssertEqual(try scratch.names(), expectedNames, file: file, line: line)
}
