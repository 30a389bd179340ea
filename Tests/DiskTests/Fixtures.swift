import Disk
import Foundation
import XCTest

/// CoreOS Container Linux's `base` layout (spec §1.2), blank partitions 5 and 8 left out.
enum CoreOSBase {
    static let usrAGUID = "7130C94A-213A-4E5A-8E26-6CCE9662F132"
    static let usrBGUID = "E03DD35C-7C2D-4A47-B3FE-27F15780A57C"

    static func specs(rootSectors: UInt64 = 4_427_776) -> [PartitionSpec] {
        [
            PartitionSpec(number: 1, label: "EFI-SYSTEM", typeGUID: "efi", sizeBytes: 262_144 * 512,
                          attributes: GPTPartitionAttributes(legacyBIOSBootable: true)),
            PartitionSpec(number: 2, label: "BIOS-BOOT", typeGUID: "bios", sizeBytes: 4096 * 512),
            PartitionSpec(number: 3, label: "USR-A", typeGUID: "coreos-rootfs", uniqueGUID: usrAGUID.lowercased(),
                          sizeBytes: 2_097_152 * 512,
                          attributes: GPTPartitionAttributes(priority: 1, tries: 0, successful: true)),
            PartitionSpec(number: 4, label: "USR-B", typeGUID: "coreos-rootfs", uniqueGUID: usrBGUID,
                          sizeBytes: 2_097_152 * 512),
            PartitionSpec(number: 6, label: "OEM", typeGUID: "data", sizeBytes: 262_144 * 512),
            PartitionSpec(number: 7, label: "OEM-CONFIG", typeGUID: "coreos-reserved", sizeBytes: 131_072 * 512),
            PartitionSpec(number: 9, label: "ROOT", typeGUID: "coreos-resize", sizeBytes: rootSectors * 512),
        ]
    }

    static func layout(rootSectors: UInt64 = 4_427_776) throws -> DiskLayout {
        try DiskLayout.plan(partitions: specs(rootSectors: rootSectors), diskIdentity: "test-board")
    }
}

/// A fresh directory per test, removed afterwards.
func temporaryDirectory(for test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("DiskTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// The error's user-facing text, for asserting on messages.
func message(of body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        try body()
        XCTFail("expected an error", file: file, line: line)
        return ""
    } catch {
        return "\(error)"
    }
}

/// Bytes a file really occupies. Not `URLResourceValues.fileAllocatedSize`: on Linux, Foundation
/// multiplies st_blocks by st_blksize and reports 8 times too much on 4 KiB-block filesystems.
func allocatedBytes(_ url: URL) throws -> UInt64 {
    var info = stat()
    guard stat(url.path, &info) == 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: url.path]) }
    return UInt64(info.st_blocks) * 512
}

func readBytes(_ url: URL, at offset: UInt64, count: Int) throws -> Data {
    let handle = try FileHandle(forReadingFrom: url)
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    return try handle.read(upToCount: count) ?? Data()
}

func overwrite(_ url: URL, at offset: UInt64, with bytes: some DataProtocol) throws {
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: bytes)
}
