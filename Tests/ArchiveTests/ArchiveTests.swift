import Archive
import Foundation
import Support
import TestSupport
import XCTest

extension Scratch {
    func directory(_ relative: String) throws -> URL {
        let url = path(relative)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `members` (each with its contents) to `name` and returns its URL.
    func archive(_ name: String, format: ArchiveWriter.Format = .tar, compression: ArchiveWriter.Compression = .none,
                 _ members: [(ArchiveEntry, String)]) throws -> URL {
        let url = path(name)
        let writer = try ArchiveWriter(file: url, format: format, compression: compression)
        for (entry, text) in members { try writer.write(entry, contents: Data(text.utf8)) }
        try writer.finish()
        return url
    }
}

func file(_ path: String, mode: UInt32 = 0o644, owner: Int = 0, mtime: Int = 0) -> ArchiveEntry {
    ArchiveEntry(path: path, kind: .regular, permissions: mode, owner: owner, group: owner, modificationTime: mtime)
}

/// Every entry of `url` with its contents.
func readAll(_ url: URL) throws -> [(entry: ArchiveEntry, contents: String)] {
    let reader = try ArchiveReader(file: url)
    var members: [(ArchiveEntry, String)] = []
    while let entry = try reader.next() {
        members.append((entry, String(decoding: try reader.readContents(), as: UTF8.self)))
    }
    return members
}

final class ArchiveRoundTripTests: XCTestCase {
    func testCpioKeepsEveryKindOfEntryAsWritten() throws {
        let scratch = try Scratch()
        let written: [(ArchiveEntry, String)] = [
            (ArchiveEntry(path: "bin", kind: .directory, permissions: 0o755, modificationTime: 5, inode: 1, linkCount: 2), ""),
            (ArchiveEntry(path: "bin/busybox", kind: .regular, permissions: 0o4755, modificationTime: 5, inode: 2), "\u{7F}ELF"),
            (ArchiveEntry(path: "bin/sh", kind: .symlink(target: "busybox"), permissions: 0o777, modificationTime: 5, inode: 3), ""),
            (ArchiveEntry(path: "dev/console", kind: .characterDevice(major: 5, minor: 1), permissions: 0o600,
                          modificationTime: 5, inode: 4), ""),
            (ArchiveEntry(path: "dev/sda", kind: .blockDevice(major: 8, minor: 0), permissions: 0o660, owner: 0, group: 6,
                          modificationTime: 5, inode: 5), ""),
        ]
        let url = try scratch.archive("initrd.img", format: .cpioNewc, compression: .zstd, written)
        let read = try readAll(url)
        XCTAssertEqual(read.map(\.contents), written.map(\.1))
        XCTAssertEqual(read.map(\.entry), written.map { entry, text in
            var entry = entry
            // cpio stores a symlink's target as its data.
            if case .symlink(let target) = entry.kind { entry.size = target.utf8.count } else { entry.size = text.utf8.count }
            return entry
        })
    }

    func testTarKeepsOwnersTimesAndHardLinks() throws {
        let scratch = try Scratch()
        let url = try scratch.archive("rootfs.tar", [
            (file("./home/core/.profile", mode: 0o600, owner: 500, mtime: 1_600_000_000), "PS1='$ '\n"),
            (ArchiveEntry(path: "./home/core/.profile-copy", kind: .hardlink(target: "./home/core/.profile"),
                          permissions: 0o600, owner: 500, group: 500), ""),
        ])
        let read = try readAll(url)
        XCTAssertEqual(read.map(\.entry.path), ["./home/core/.profile", "./home/core/.profile-copy"])
        XCTAssertEqual(read[0].entry.owner, 500)
        XCTAssertEqual(read[0].entry.permissions, 0o600)
        XCTAssertEqual(read[0].entry.modificationTime, 1_600_000_000)
        XCTAssertEqual(read[0].contents, "PS1='$ '\n")
        XCTAssertEqual(read[1].entry.kind, .hardlink(target: "./home/core/.profile"))
    }

    func testSameEntriesGiveTheSameBytes() throws {
        let scratch = try Scratch()
        let members = [(file("etc/initrd-release", mtime: 5), "ID=coreos-init\n"), (file("init", mode: 0o755, mtime: 5), "#!/bin/sh\n")]
        let first = try scratch.archive("one.img", format: .cpioNewc, compression: .zstd, members)
        let second = try scratch.archive("two.img", format: .cpioNewc, compression: .zstd, members)
        XCTAssertEqual(try Data(contentsOf: first), try Data(contentsOf: second))
    }

    func testContentsOfFindsOneEntryAndNilForAMissingOne() throws {
        let scratch = try Scratch()
        let members = [(file("./etc/hostname"), "coreos\n"), (file("./var/lib/dpkg/status"), "Package: bash\n")]
        let url = try scratch.archive("rootfs.tar", members)
        XCTAssertEqual(try ArchiveReader(file: url).contents(of: "./var/lib/dpkg/status"), Data("Package: bash\n".utf8))
        XCTAssertNil(try ArchiveReader(file: url).contents(of: "var/lib/dpkg/status"), "paths match as the archive spells them")
    }

    func testOnlyARegularFileHasContents() throws {
        let scratch = try Scratch()
        let writer = try ArchiveWriter(file: scratch.path("bad.cpio"), format: .cpioNewc)
        XCTAssertThrowsError(try writer.write(ArchiveEntry(path: "bin", kind: .directory, permissions: 0o755), contents: Data("x".utf8))) {
            XCTAssertEqual("\($0)", "\(scratch.path("bad.cpio").path): writing bin: only a regular file has contents")
        }
    }
}

final class ArchiveDamageTests: XCTestCase {
    /// A tarball whose second member's data is cut off half-way.
    func truncatedTarball(_ scratch: Scratch) throws -> URL {
        let url = try scratch.archive("rootfs.tar", [(file("./etc/hostname"), "coreos\n"),
                                                     (file("./usr/bin/big"), String(repeating: "x", count: 64 << 10))])
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(3 * 512 + (32 << 10)).write(to: url)
        return url
    }

    func testTruncatedArchiveNamesTheFileAndTheEntry() throws {
        let scratch = try Scratch()
        let url = try truncatedTarball(scratch)
        let reader = try ArchiveReader(file: url)
        XCTAssertEqual(try reader.next()?.path, "./etc/hostname")
        XCTAssertEqual(try reader.next()?.path, "./usr/bin/big")
        XCTAssertThrowsError(try reader.readContents()) { error in
            let error = error as? ArchiveError
            XCTAssertEqual(error?.file, url.path)
            XCTAssertEqual(error?.entry, "./usr/bin/big")
            XCTAssertEqual(error?.action, "reading the data of")
            XCTAssertTrue(error?.reason.hasPrefix("libarchive: ") ?? false, "\(String(describing: error))")
        }
    }

    func testTruncatedArchiveStopsExtraction() throws {
        let scratch = try Scratch()
        let url = try truncatedTarball(scratch)
        XCTAssertThrowsError(try ArchiveReader(file: url).extract(into: try scratch.directory("tree"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(url.path): reading the data of ./usr/bin/big: libarchive: "), "\(error)")
        }
    }

    func testTruncatedCompressedStreamIsAnError() throws {
        let scratch = try Scratch()
        let url = try scratch.archive("initrd.img", format: .cpioNewc, compression: .zstd,
                                      (0..<64).map { (file("lib/modules/\($0).ko"), UUID().uuidString + String(repeating: "m", count: 4096)) })
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: url)
        XCTAssertThrowsError(try readAll(url)) { error in
            XCTAssertEqual((error as? ArchiveError)?.file, url.path)
        }
    }

    func testGarbageIsNotAnArchive() throws {
        let scratch = try Scratch()
        let url = scratch.path("garbage.tar")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }).write(to: url)
        XCTAssertThrowsError(try readAll(url)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(url.path): "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix(": libarchive: Unrecognized archive format"), "\(error)")
        }
    }

    func testMissingFileIsNamed() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("missing-\(UUID().uuidString).tar")
        XCTAssertThrowsError(try ArchiveReader(file: url)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(url.path): opening: libarchive: "), "\(error)")
        }
    }
}

final class ArchiveExtractionTests: XCTestCase {
    func testOwnersModesSymlinksAndClampedTimesAreKept() throws {
        let scratch = try Scratch()
        let url = try scratch.archive("rootfs.tar", [
            (file("./etc/hostname", mtime: 1_600_000_000), "coreos\n"),
            (file("./usr/bin/tool", mode: 0o755, mtime: 2_000_000_000), "#!/bin/sh\n"),
            (ArchiveEntry(path: "./bin", kind: .symlink(target: "usr/bin"), permissions: 0o777), ""),
            (ArchiveEntry(path: "./usr/bin/tool2", kind: .hardlink(target: "./usr/bin/tool"), permissions: 0o755), ""),
        ])
        let tree = try scratch.directory("tree")
        try ArchiveReader(file: url).extract(into: tree, clampingTimesTo: 1_700_000_000)
        XCTAssertEqual(try String(contentsOf: tree.appendingPathComponent("bin/tool"), encoding: .utf8), "#!/bin/sh\n")
        let tool = try FileManager.default.attributesOfItem(atPath: tree.appendingPathComponent("usr/bin/tool").path)
        XCTAssertEqual(tool[.posixPermissions] as? Int, 0o755)
        XCTAssertEqual((tool[.modificationDate] as? Date)?.timeIntervalSince1970, 1_700_000_000, "clamped")
        XCTAssertEqual(tool[.referenceCount] as? Int, 2, "hard link")
        let hostname = try FileManager.default.attributesOfItem(atPath: tree.appendingPathComponent("etc/hostname").path)
        XCTAssertEqual((hostname[.modificationDate] as? Date)?.timeIntervalSince1970, 1_600_000_000)
    }

    func testSkippedEntriesAreNotWritten() throws {
        let scratch = try Scratch()
        let url = try scratch.archive("rootfs.tar", [
            (ArchiveEntry(path: "./dev/null", kind: .characterDevice(major: 1, minor: 3), permissions: 0o666), ""),
            (file("./etc/hostname"), "coreos\n"),
        ])
        let tree = try scratch.directory("tree")
        try ArchiveReader(file: url).extract(into: tree) { $0.kind.isDevice }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tree.path).sorted(), ["etc"])
    }

    func testEntriesLeavingTheDestinationAreRefused() throws {
        let absolute = "/tmp/coresdk-absolute-\(UUID().uuidString)"
        let evil: [(ArchiveEntry, String)] = [
            (file("../escaped"), "x"),
            (file("./etc/../../escaped"), "x"),
            (file(absolute), "x"),
            (ArchiveEntry(path: "./passwd", kind: .hardlink(target: "../outside/passwd"), permissions: 0o644), ""),
        ]
        for (entry, text) in evil {
            let scratch = try Scratch()
            try Data("secret".utf8).write(to: try scratch.directory("outside").appendingPathComponent("passwd"))
            let url = try scratch.archive("evil.tar", [(entry, text)])
            XCTAssertThrowsError(try ArchiveReader(file: url).extract(into: try scratch.directory("tree"))) { error in
                XCTAssertEqual(error as? ArchiveError, ArchiveError(
                    file: url.path, entry: entry.path, action: "extracting",
                    reason: "it points outside the destination (\(entry.kind == .regular ? entry.path : "../outside/passwd"))"))
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.path("escaped").path))
            XCTAssertFalse(FileManager.default.fileExists(atPath: absolute))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path("tree").path), [])
        }
    }

    func testNothingIsWrittenThroughASymlink() throws {
        let scratch = try Scratch()
        let outside = try scratch.directory("outside")
        let url = try scratch.archive("evil.tar", [
            (ArchiveEntry(path: "./etc", kind: .symlink(target: outside.path), permissions: 0o777), ""),
            (file("./etc/planted"), "x"),
        ])
        XCTAssertThrowsError(try ArchiveReader(file: url).extract(into: try scratch.directory("tree"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(url.path): extracting ./etc/planted: libarchive: "), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), [])
    }

    func testADestinationReachedThroughASymlinkStillWorks() throws {
        let scratch = try Scratch()
        let tree = try scratch.directory("tree")
        try FileManager.default.createSymbolicLink(at: scratch.path("link"), withDestinationURL: tree)
        let url = try scratch.archive("rootfs.tar", [(file("./etc/hostname"), "coreos\n")])
        try ArchiveReader(file: url).extract(into: scratch.path("link"))
        XCTAssertEqual(try String(contentsOf: tree.appendingPathComponent("etc/hostname"), encoding: .utf8), "coreos\n")
    }
}
