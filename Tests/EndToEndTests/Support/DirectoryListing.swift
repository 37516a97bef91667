import Foundation

/// Names in `directory`, hidden ones (like `.out.mp4.1234.part`) included, sorted.
func directoryListing(_ directory: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
}
