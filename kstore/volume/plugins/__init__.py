"""Volume plugins (DESIGN §4, STYLE §4): the interfaces in base.py, the plugins, and the
PluginManager that picks one for a volume. Side effects go through kstore/volume/mount.py.

Typical node-side use (the kubelet's volume manager; every call blocks):

    host = VolumeHost(state_dir, make_mounter(state_dir, simulate), node="node-1", objects=getter)
    manager = PluginManager(host)
    plugin, spec = manager.for_pod_volume(pod["spec"]["volumes"][0], pod)
    if isinstance(plugin, DeviceMountablePlugin) and plugin.can_device_mount(spec):
        dm = plugin.new_device_mounter()
        device = dm.wait_for_attach(spec, device_path_from_node_status, host.attach_timeout)
        dm.mount_device(spec, device, dm.device_mount_path(spec))
    plugin.new_mounter(spec, pod).set_up()

and controller-side: `plugin.new_attacher().attach(spec, node)` when
`isinstance(plugin, AttachablePlugin) and plugin.can_attach(spec)`, `new_detacher().detach(
plugin.volume_name(spec), node)`.
"""

from kstore.volume.plugins.atomic_writer import AtomicWriter, FileProjection
from kstore.volume.plugins.base import (
    AttachablePlugin,
    Attacher,
    BlockMappablePlugin,
    BlockVolumeMapper,
    BlockVolumeUnmapper,
    Detacher,
    DeviceMountablePlugin,
    DeviceMounter,
    DeviceUnmounter,
    NodeExpandablePlugin,
    NodeExpander,
    ObjectGetter,
    ResolvedClaim,
    Spec,
    VolumeHost,
    VolumeMounter,
    VolumePlugin,
    VolumeResolver,
    VolumeUnmounter,
    escape_plugin_name,
)
from kstore.volume.plugins.emptydir import EMPTY_DIR_PLUGIN, EmptyDirPlugin
from kstore.volume.plugins.flexvolume import FlexVolumePlugin
from kstore.volume.plugins.hostpath import HOST_PATH_PLUGIN, HostPathPlugin
from kstore.volume.plugins.local import LOCAL_PLUGIN, LocalPlugin
from kstore.volume.plugins.manager import ObjectVolumeResolver, PluginManager
from kstore.volume.plugins.pool_volume import CSI_PLUGIN, PoolPlugin
from kstore.volume.plugins.projection import ConfigMapPlugin, DownwardAPIPlugin, ProjectedPlugin, SecretPlugin

__all__ = [
    "CSI_PLUGIN", "EMPTY_DIR_PLUGIN", "HOST_PATH_PLUGIN", "LOCAL_PLUGIN",
    "AtomicWriter", "AttachablePlugin", "Attacher", "BlockMappablePlugin", "BlockVolumeMapper",
    "BlockVolumeUnmapper", "ConfigMapPlugin", "Detacher", "DeviceMountablePlugin", "DeviceMounter",
    "DeviceUnmounter", "DownwardAPIPlugin", "EmptyDirPlugin", "FileProjection", "FlexVolumePlugin",
    "HostPathPlugin", "LocalPlugin", "NodeExpandablePlugin", "NodeExpander", "ObjectGetter",
    "ObjectVolumeResolver", "PluginManager", "PoolPlugin", "ProjectedPlugin", "ResolvedClaim", "SecretPlugin",
    "Spec", "VolumeHost", "VolumeMounter", "VolumePlugin", "VolumeResolver", "VolumeUnmounter",
    "escape_plugin_name",
]
