// The npm `install` script: builds the addon from source with cargo only, so that
// `npm install ./node` from another project works without this package's devDependencies
// (npm does not install them for a path install, so `napi build` would not be found).
// Writes gogroup.<platform>-<arch>[-gnu|-musl].node, the first name the generated index.js loads.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(dirname(fileURLToPath(import.meta.url)))
const manifest = join(here, 'Cargo.toml')
const cargo = process.env.CARGO || 'cargo'

if (process.env.GOGROUP_SKIP_BUILD === '1') process.exit(0)

const meta = JSON.parse(
  execFileSync(
    cargo,
    ['metadata', '--no-deps', '--format-version', '1', '--manifest-path', manifest],
    {
      encoding: 'utf8',
    },
  ),
)
const args = ['build', '--lib', '--release', '--manifest-path', manifest]
if (process.env.CARGO_FLAGS !== undefined)
  args.push(...process.env.CARGO_FLAGS.split(/\s+/).filter(Boolean))
else if (existsSync(join(here, '..', 'Cargo.lock'))) args.push('--locked')
execFileSync(cargo, args, { stdio: 'inherit' })

const libc =
  process.platform === 'linux'
    ? process.report?.getReport?.().header?.glibcVersionRuntime
      ? '-gnu'
      : '-musl'
    : ''
const platform = process.platform === 'win32' ? 'win32' : process.platform
const ext = { darwin: 'dylib', win32: 'dll' }[process.platform] ?? 'so'
const prefix = process.platform === 'win32' ? '' : 'lib'
const built = join(meta.target_directory, 'release', `${prefix}gogroup_node.${ext}`)
const dest = join(
  here,
  `gogroup.${platform}-${process.arch}${process.platform === 'win32' ? '-msvc' : libc}.node`,
)
copyFileSync(built, dest)
console.log(`gogroup: built ${dest}`)
