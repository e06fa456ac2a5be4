package dev.converge.block.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.SchemaValidator;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The dirty bitmap commands and transaction actions, through the registry with schema validation. */
class BitmapQmpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MIB = 1 << 20;

    private final MainLoop mainLoop = new MainLoop();
    private final QmpRegistry registry = new QmpRegistry();
    private BlockGraph graph;
    private BlockNode n0;

    @BeforeEach
    void setUp() {
        graph = new BlockGraph(mainLoop);
        BlockQmp block = new BlockQmp(graph);
        block.register(registry);
        TransactionQmp transactions = new TransactionQmp(registry);
        transactions.register();
        block.bitmaps().registerTransactionActions(transactions);
        qmp("blockdev-add", "{'driver':'null-co','node-name':'n0','size':4194304}");
        qmp("blockdev-add", "{'driver':'null-co','node-name':'n1','size':4194304}");
        qmp("blockdev-add", "{'driver':'null-co','node-name':'small','size':1048576}");
        n0 = mainLoop.call(() -> graph.find("n0").orElseThrow());
    }

    @AfterEach
    void tearDown() {
        mainLoop.close();
    }

    private JsonNode qmp(String command, String argsJson) {
        ObjectNode args;
        try {
            args = (ObjectNode) JSON.readTree(argsJson.replace('\'', '"'));
        } catch (Exception e) {
            throw new IllegalArgumentException(argsJson, e);
        }
        return mainLoop.call(() -> {
            var spec = registry.command(command).orElseThrow();
            return spec.handler().handle(new Args(SchemaValidator.validateArguments(spec, args)));
        });
    }

    private void fails(String command, String args, String desc) {
        assertThatThrownBy(() -> qmp(command, args)).isInstanceOfSatisfying(QmpException.class,
                e -> assertThat(e.desc()).isEqualTo(desc));
    }

    private void write(BlockNode n, long offset, long bytes) throws Exception {
        try (Arena a = Arena.ofConfined()) {
            n.write(offset, a.allocate(bytes));
        }
    }

    private DirtyBitmap bitmap(String node, String name) {
        return mainLoop.call(() -> graph.find(node).orElseThrow().dirtyBitmap(name).orElseThrow());
    }

    private static String ranges(DirtyBitmap b) {
        return b.dirtyRanges(0, b.length()).toString();
    }

    @Test
    void lookupErrorsAreQemus() {
        fails("block-dirty-bitmap-clear", "{'node':'zz','name':'b'}", "Node 'zz' not found");
        fails("block-dirty-bitmap-enable", "{'node':'n0','name':'b'}", "Dirty bitmap 'b' not found");
        fails("block-dirty-bitmap-add", "{'node':'zz','name':'b'}", "Cannot find device='zz' nor node-name='zz'");
        fails("block-dirty-bitmap-add", "{'node':'n0','name':'b','persistent':true}",
                "Can't store persistent bitmaps to n0");
    }

    @Test
    void enableDisableAndQueryShape() throws Exception {
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'b','granularity':4096}");
        qmp("block-dirty-bitmap-disable", "{'node':'n0','name':'b'}");
        write(n0, 0, 10);
        qmp("block-dirty-bitmap-enable", "{'node':'n0','name':'b'}");
        write(n0, MIB, 10);
        assertThat(ranges(bitmap("n0", "b"))).isEqualTo("[Range[offset=1048576, length=4096]]");
        JsonNode info = qmp("query-named-block-nodes", "{'flat':true}");
        JsonNode node = null;
        for (JsonNode n : info) {
            if (n.get("node-name").asText().equals("n0")) {
                node = n;
            }
        }
        assertThat(node.get("dirty-bitmaps").toString()).isEqualTo("[{\"name\":\"b\",\"recording\":true,"
                + "\"persistent\":false,\"busy\":false,\"granularity\":4096,\"count\":4096}]");
    }

    @Test
    void busyBitmapsAreRefusedButMayBeMergedFrom() throws Exception {
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'b'}");
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'t'}");
        write(n0, 0, 1);
        bitmap("n0", "b").setBusy(true);
        String inUse = "Bitmap 'b' is currently in use by another operation and cannot be used";
        for (String c : new String[] {"remove", "clear", "enable", "disable"}) {
            fails("block-dirty-bitmap-" + c, "{'node':'n0','name':'b'}", inUse);
        }
        fails("block-dirty-bitmap-merge", "{'node':'n0','target':'b','bitmaps':['t']}", inUse);
        qmp("block-dirty-bitmap-clear", "{'node':'n0','name':'t'}");
        qmp("block-dirty-bitmap-merge", "{'node':'n0','target':'t','bitmaps':['b']}"); // reading is allowed
        assertThat(bitmap("n0", "t").dirtyBytes()).isEqualTo(65536);
        fails("block-dirty-bitmap-add", "{'node':'n0','name':'b'}", "Bitmap already exists: b");
    }

    @Test
    void mergeTakesLocalAndExternalSourcesOfAnyGranularity() throws Exception {
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'t','granularity':65536}");
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'fine','granularity':512}");
        qmp("block-dirty-bitmap-add", "{'node':'n1','name':'other','granularity':4096}");
        qmp("block-dirty-bitmap-add", "{'node':'small','name':'s'}");
        qmp("block-dirty-bitmap-disable", "{'node':'n0','name':'t'}");
        write(n0, 100, 1);
        write(mainLoop.call(() -> graph.find("n1").orElseThrow()), 3 * MIB, 1);
        fails("block-dirty-bitmap-merge", "{'node':'n0','target':'t','bitmaps':['fine','nope']}",
                "Dirty bitmap 'nope' not found");
        fails("block-dirty-bitmap-merge", "{'node':'n0','target':'t','bitmaps':[{'node':'small','name':'s'}]}",
                "Bitmaps are of different sizes (destination size is 4194304, source size is 1048576) and can't be "
                        + "merged");
        fails("block-dirty-bitmap-merge", "{'node':'n0','target':'t','bitmaps':['fine',{'node':'zz','name':'x'}]}",
                "Node 'zz' not found");
        assertThat(bitmap("n0", "t").dirtyBytes()).as("unchanged after a refused merge").isZero();
        qmp("block-dirty-bitmap-merge", "{'node':'n0','target':'t','bitmaps':['fine',{'node':'n1','name':'other'}]}");
        assertThat(ranges(bitmap("n0", "t"))).isEqualTo(
                "[Range[offset=0, length=65536], Range[offset=3145728, length=65536]]");
    }

    @Test
    void inconsistentBitmapsMayOnlyBeRemoved() {
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'b'}");
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'t'}");
        bitmap("n0", "b").setPersistent(true);
        bitmap("n0", "b").setInconsistent();
        String bad = "Bitmap 'b' is inconsistent and cannot be used";
        fails("block-dirty-bitmap-clear", "{'node':'n0','name':'b'}", bad);
        fails("block-dirty-bitmap-enable", "{'node':'n0','name':'b'}", bad);
        fails("block-dirty-bitmap-merge", "{'node':'n0','target':'t','bitmaps':['b']}", bad);
        fails("block-dirty-bitmap-merge", "{'node':'n0','target':'b','bitmaps':['t']}", bad);
        JsonNode info = qmp("query-named-block-nodes", "{'flat':true}");
        assertThat(info.findValues("inconsistent")).hasSize(1);
        qmp("block-dirty-bitmap-remove", "{'node':'n0','name':'b'}");
        assertThat(mainLoop.call(() -> n0.dirtyBitmap("b"))).isEmpty();
    }

    @Test
    void transactionAppliesEveryActionOrNone() throws Exception {
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'old'}");
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'src','disabled':true}");
        write(n0, 0, 1);
        bitmap("n0", "src").setDirty(2 * MIB, 1);
        String actions = "{'type':'block-dirty-bitmap-add','data':{'node':'n0','name':'new'}},"
                + "{'type':'block-dirty-bitmap-clear','data':{'node':'n0','name':'old'}},"
                + "{'type':'block-dirty-bitmap-merge','data':{'node':'n0','target':'old','bitmaps':['src']}},"
                + "{'type':'block-dirty-bitmap-disable','data':{'node':'n0','name':'old'}},"
                + "{'type':'block-dirty-bitmap-remove','data':{'node':'n0','name':'src'}}";
        fails("transaction", "{'actions':[" + actions + ",{'type':'abort','data':{}}]}",
                "Transaction aborted using Abort action");
        assertThat(mainLoop.call(() -> n0.dirtyBitmap("new"))).isEmpty();
        assertThat(ranges(bitmap("n0", "old"))).isEqualTo("[Range[offset=0, length=65536]]");
        assertThat(bitmap("n0", "old").enabled()).isTrue();
        assertThat(bitmap("n0", "src").busy()).isFalse();

        qmp("transaction", "{'actions':[" + actions + "]}");
        assertThat(mainLoop.call(() -> n0.dirtyBitmap("new"))).isPresent();
        assertThat(mainLoop.call(() -> n0.dirtyBitmap("src"))).isEmpty();
        assertThat(ranges(bitmap("n0", "old"))).isEqualTo("[Range[offset=2097152, length=65536]]");
        assertThat(bitmap("n0", "old").enabled()).isFalse();
    }

    @Test
    void groupedTransactionsRefuseBitmapActions() {
        fails("transaction", "{'actions':[{'type':'block-dirty-bitmap-add','data':{'node':'n0','name':'b'}}],"
                + "'properties':{'completion-mode':'grouped'}}",
                "Action 'block-dirty-bitmap-add' does not support transaction property completion-mode = grouped");
        assertThat(mainLoop.call(() -> n0.dirtyBitmap("b"))).isEmpty();
    }

    @Test
    void mergeSchemaTakesNamesOrNodeNamePairs() {
        assertThatThrownBy(() -> qmp("block-dirty-bitmap-merge", "{'node':'n0','target':'t','bitmaps':[7]}"))
                .hasMessageEndingWith("expected: BlockDirtyBitmapMergeSource");
    }
}
