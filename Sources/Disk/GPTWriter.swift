import Foundation
import Support

/// Writes a `DiskLayout` as a protective MBR plus primary and backup GPT onto a fresh sparse image.
public enum GPTWriter {
    /// CoreOS ships this placeholder disk GUID; first boot replaces it (spec §1.4, §3.3
    /// `coreos.randomize_disk_guid`), so an image must carry exactly this value.
    public static let placeholderDiskGUID = "00000000-0000-0000-0000-000000000001"

    /// Creates (or empties) `image` at `layout.totalBytes` without writing data, writes the
    /// partition table, and reads it back to prove libfdisk kept every start, size and field.
    public static func write(_ layout: DiskLayout, to image: URL, diskGUID: String = placeholderDiskGUID) throws {
        try ImageFile.createSparse(image, size: layout.totalBytes)
        let fdisk = try FdiskContext(image: image, readOnly: false)
        try fdisk.createGPT(diskGUID: diskGUID)
        for partition in layout.partitions { try fdisk.add(partition) }
        try fdisk.write()
        try verify(layout, diskGUID: diskGUID, against: try GPTReader.read(image))
    }

    private static func verify(_ layout: DiskLayout, diskGUID: String, against disk: GPTDisk) throws {
        guard disk.diskGUID == diskGUID.uppercased() else {
            throw SupportError("libfdisk wrote disk GUID \(disk.diskGUID) instead of \(diskGUID)")
        }
        for partition in layout.partitions {
            let expected = GPTEntry(number: partition.number, typeGUID: partition.typeGUID,
                                    uniqueGUID: partition.uniqueGUID, name: partition.label,
                                    firstLBA: partition.firstLBA, lastLBA: partition.lastLBA,
                                    attributes: partition.spec.attributes)
            guard let written = disk.partition(number: partition.number), written == expected else {
                throw SupportError("libfdisk did not write \(partition.name) as planned:\n  planned \(expected)\n  "
                    + "written \(disk.partition(number: partition.number).map { "\($0)" } ?? "nothing")")
            }
        }
        guard disk.partitions.count == layout.partitions.count else {
            throw SupportError("libfdisk wrote \(disk.partitions.count) partitions, the layout has \(layout.partitions.count)")
        }
    }
}
