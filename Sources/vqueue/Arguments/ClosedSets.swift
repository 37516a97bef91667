import ArgumentParser
import JobQueue
import Transcode

// Options whose values are a closed set are parsed as these enums: the
// parser refuses anything else with the list of values, `--help` prints
// them, and the shell completions offer them.
extension WebPreset: ExpressibleByArgument {}
extension X264Preset: ExpressibleByArgument {}
extension OutputContainer: ExpressibleByArgument {}
extension JobState: ExpressibleByArgument {}
extension HLSSegmentType: ExpressibleByArgument {}
