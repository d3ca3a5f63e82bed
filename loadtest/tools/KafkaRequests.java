// Requests the Kafka broker has served, by API, and records appended, by topic: run it before and
// after a load run and divide the difference by the orders (docs/performance.md, "Third pass").
//   jcmd <kafka pid> ManagementAgent.start jmxremote.port=19999 jmxremote.authenticate=false jmxremote.ssl=false
//   java loadtest/tools/KafkaRequests.java 19999 > before.txt   (again after the run: after.txt)
//   join before.txt after.txt | awk '{print $1, $3 - $2}'
// (Local broker only: the agent listens on every interface without authentication while on.)
import java.util.Map;
import java.util.TreeMap;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class KafkaRequests {
  public static void main(String[] args) throws Exception {
    String port = args.length > 0 ? args[0] : "19999";
    JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + port + "/jmxrmi");
    try (JMXConnector connector = JMXConnectorFactory.connect(url)) {
      MBeanServerConnection server = connector.getMBeanServerConnection();
      Map<String, Long> counts = new TreeMap<>();
      for (ObjectName n : server.queryNames(new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null)) {
        counts.merge("request:" + n.getKeyProperty("request"), (Long) server.getAttribute(n, "Count"), Long::sum);
      }
      for (ObjectName n : server.queryNames(new ObjectName("kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=*"), null)) {
        counts.put("records:" + n.getKeyProperty("topic"), (Long) server.getAttribute(n, "Count"));
      }
      for (Map.Entry<String, Long> e : counts.entrySet()) System.out.println(e.getKey() + " " + e.getValue());
    }
  }
}
