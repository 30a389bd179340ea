import Foundation
import Support

/// One used GPT entry (UEFI 2.10 §5.3.3; spec §1.6 for the byte offsets).
public struct GPTEntry: Sendable, Equatable, CustomStringConvertible {
    public static let size = 128

    public let number: Int
    public let typeGUID: String
    public let uniqueGUID: String
    public let name: String
    public let firstLBA: UInt64
    public let lastLBA: UInt64
    public let attributes: GPTPartitionAttributes

    public var sectorCount: UInt64 { lastLBA - firstLBA + 1 }
    public var description: String {
        "\(describe(number, name)): sectors \(firstLBA)...\(lastLBA), type \(typeGUID), GUID \(uniqueGUID), \(attributes)"
    }
    public var byteOffset: UInt64 { firstLBA * DiskLayout.sectorSize }
    public var byteCount: UInt64 { sectorCount * DiskLayout.sectorSize }

    /// Decodes one 128-byte entry; nil for an unused slot (all-zero type GUID).
    static func decode(_ bytes: ArraySlice<UInt8>, number: Int) -> GPTEntry? {
        let b = Array(bytes)
        let type = GUID.decode(b[0..<16])
        guard type != GUID.zero else { return nil }
        let units = stride(from: 56, to: 128, by: 2).map { UInt16(b[$0]) | UInt16(b[$0 + 1]) << 8 }
        return GPTEntry(number: number, typeGUID: type, uniqueGUID: GUID.decode(b[16..<32]),
                        name: String(decoding: units.prefix { $0 != 0 }, as: UTF16.self),
                        firstLBA: littleEndian(b, 32), lastLBA: littleEndian(b, 40),
                        attributes: GPTPartitionAttributes(rawValue: littleEndian(b, 48)))
    }
}

/// A GPT header (primary at LBA 1, backup at the last LBA), UEFI 2.10 §5.3.2.
public struct GPTHeader: Sendable, Equatable {
    public let currentLBA: UInt64
    public let alternateLBA: UInt64
    public let firstUsableLBA: UInt64
    public let lastUsableLBA: UInt64
    public let diskGUID: String
    public let entriesLBA: UInt64
    public let entryCount: UInt32
    public let entrySize: UInt32
    public let entriesCRC32: UInt32
    public let headerCRC32: UInt32

    var entriesByteCount: Int { Int(entryCount) * Int(entrySize) }

    /// Checks signature, size and CRC; `what` names the copy in errors ("primary GPT header").
    static func decode(_ b: [UInt8], what: String, in url: URL) throws -> GPTHeader {
        guard b[0..<8].elementsEqual(Array("EFI PART".utf8)) else {
            throw SupportError(file: url.path, "no \(what) (signature 'EFI PART' missing)")
        }
        let headerSize = Int(littleEndian32(b, 12))
        guard (92...b.count).contains(headerSize) else {
            throw SupportError(file: url.path, "\(what) claims a size of \(headerSize) bytes")
        }
        let stored = littleEndian32(b, 16)
        var zeroedCRC = Array(b[0..<headerSize])
        zeroedCRC.replaceSubrange(16..<20, with: [0, 0, 0, 0])
        let computed = CRC32.checksum(zeroedCRC)
        guard stored == computed else {
            throw SupportError(file: url.path, "\(what) CRC32 is \(hex(stored)) but its bytes give \(hex(computed))")
        }
        let header = GPTHeader(currentLBA: littleEndian(b, 24), alternateLBA: littleEndian(b, 32),
                               firstUsableLBA: littleEndian(b, 40), lastUsableLBA: littleEndian(b, 48),
                               diskGUID: GUID.decode(b[56..<72]), entriesLBA: littleEndian(b, 72),
                               entryCount: littleEndian32(b, 80), entrySize: littleEndian32(b, 84),
                               entriesCRC32: littleEndian32(b, 88), headerCRC32: stored)
        // UEFI allows entry sizes of 128 × 2^n; the cap keeps a corrupt count from reading gigabytes.
        guard header.entrySize >= 128, header.entrySize.nonzeroBitCount == 1,
              header.entriesByteCount <= 1 << 20 else {
            throw SupportError(file: url.path, "\(what) describes \(header.entryCount) entries of "
                + "\(header.entrySize) bytes, which is not a valid GPT entry array")
        }
        return header
    }
}

/// One slot of the MBR partition table at LBA 0 (type 0xEE = GPT protective).
public struct MBRPartition: Sendable, Equatable {
    public let bootIndicator: UInt8
    public let type: UInt8
    public let firstLBA: UInt32
    public let sectorCount: UInt32
}

/// What a disk image's partition table says, with every checksum verified.
public struct GPTDisk: Sendable, Equatable {
    public let diskGUID: String
    public let totalSectors: UInt64
    /// Used slots of the MBR at LBA 0: one 0xEE entry (protective) or more (hybrid, spec §1.5).
    public let mbrPartitions: [MBRPartition]
    public let primaryHeader: GPTHeader
    public let backupHeader: GPTHeader
    public let partitions: [GPTEntry]

    public func partition(number: Int) -> GPTEntry? { partitions.first { $0.number == number } }
    public func partition(labeled name: String) -> GPTEntry? { partitions.first { $0.name == name } }
}

/// Reads a GPT in pure Swift, touching only the first and last few sectors of the image. This is
/// what build steps use to find partitions inside a finished image, independently of libfdisk.
public enum GPTReader {
    public static func read(_ image: URL) throws -> GPTDisk {
        let file = try ImageFile(image, writable: false)
        let sector = Int(DiskLayout.sectorSize)
        let totalSectors = try file.size / DiskLayout.sectorSize
        guard totalSectors >= 2 * DiskLayout.gptReservedSectors else {
            throw SupportError(file: image.path, "\(totalSectors) sectors is too small to hold a GPT")
        }
        let mbrPartitions = try readProtectiveMBR(try file.read(sector, at: 0), in: image)
        let primary = try GPTHeader.decode(try file.read(sector, at: DiskLayout.sectorSize),
                                           what: "primary GPT header", in: image)
        guard primary.currentLBA == 1, primary.alternateLBA < totalSectors else {
            throw SupportError(file: image.path, "primary GPT header says it is at LBA \(primary.currentLBA) "
                + "with its backup at LBA \(primary.alternateLBA), but the image has \(totalSectors) sectors")
        }
        let entries = try readEntries(of: primary, from: file, what: "primary GPT entries")
        let backup = try GPTHeader.decode(try file.read(sector, at: primary.alternateLBA * DiskLayout.sectorSize),
                                          what: "backup GPT header", in: image)
        guard backup.currentLBA == primary.alternateLBA, backup.alternateLBA == 1,
              backup.diskGUID == primary.diskGUID, backup.entriesCRC32 == primary.entriesCRC32 else {
            throw SupportError(file: image.path, "the backup GPT header does not mirror the primary one "
                + "(run `sfdisk --relocate gpt-bak-std` or `cgpt repair` to rebuild it)")
        }
        _ = try readEntries(of: backup, from: file, what: "backup GPT entries")

        let partitions = stride(from: 0, to: entries.count, by: Int(primary.entrySize)).enumerated().compactMap {
            GPTEntry.decode(entries[$1..<($1 + GPTEntry.size)], number: $0 + 1)
        }
        return GPTDisk(diskGUID: primary.diskGUID, totalSectors: totalSectors, mbrPartitions: mbrPartitions,
                       primaryHeader: primary, backupHeader: backup, partitions: partitions)
    }

    private static func readProtectiveMBR(_ b: [UInt8], in url: URL) throws -> [MBRPartition] {
        guard b[510] == 0x55, b[511] == 0xAA else {
            throw SupportError(file: url.path, "no MBR boot signature 55 AA at byte 510")
        }
        let slots = (0..<4).map { slot -> MBRPartition in
            let o = 446 + 16 * slot
            return MBRPartition(bootIndicator: b[o], type: b[o + 4],
                                firstLBA: littleEndian32(b, o + 8),
                                sectorCount: littleEndian32(b, o + 12))
        }.filter { $0.type != 0 }
        guard slots.contains(where: { $0.type == 0xEE }) else {
            throw SupportError(file: url.path, "the MBR has no GPT protective (0xEE) partition; this is not a GPT disk")
        }
        return slots
    }

    private static func readEntries(of header: GPTHeader, from file: ImageFile, what: String) throws -> [UInt8] {
        let bytes = try file.read(header.entriesByteCount, at: header.entriesLBA * DiskLayout.sectorSize)
        let computed = CRC32.checksum(bytes)
        guard computed == header.entriesCRC32 else {
            throw SupportError(file: file.url.path, "\(what) CRC32 is \(hex(header.entriesCRC32)) "
                + "but the entries give \(hex(computed))")
        }
        return bytes
    }
}

/// GPT and MBR integers are little-endian whatever the host.
func littleEndian(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
}

func littleEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
}

private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16, uppercase: true) }
