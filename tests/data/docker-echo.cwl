cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "debian:stable-slim"}
baseCommand: [sh, -c, 'cat /etc/debian_version > version.txt']
inputs: []
outputs:
  version: {type: File, outputBinding: {glob: version.txt}}
