<?php
/**
 * Plugin Name:          Voltbridge Crypto Payments for WooCommerce
 * Plugin URI:           https://github.com/voltbridge/voltbridge
 * Description:          Accept SOL, USDC and USDT through your own voltbridge gateway (VOLTXT plugin API).
 * Version:              1.0.0
 * Requires at least:    6.0
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * Author:               voltbridge
 * License:              GPL-2.0-or-later
 * License URI:          https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:          voltbridge-woocommerce
 * Domain Path:          /languages
 * WC requires at least: 7.1
 * WC tested up to:      9.4
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

define( 'VOLTBRIDGE_WC_VERSION', '1.0.0' );
define( 'VOLTBRIDGE_WC_FILE', __FILE__ );

/**
 * Orders live in custom order tables (HPOS) on current WooCommerce; the plugin only touches orders through
 * WC_Order, so it says so, and WooCommerce keeps HPOS available with the plugin active. The Cart and Checkout
 * blocks get a payment method of their own (includes/class-voltbridge-blocks.php), so they are declared too:
 * without it WooCommerce warns the merchant and offers to switch back to the classic checkout.
 */
function voltbridge_wc_declare_compatibility() {
	if ( class_exists( \Automattic\WooCommerce\Utilities\FeaturesUtil::class ) ) {
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', __FILE__, true );
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', __FILE__, true );
	}
}
add_action( 'before_woocommerce_init', 'voltbridge_wc_declare_compatibility' );

/**
 * Translations from languages/ (voltbridge-woocommerce-<locale>.mo), loaded on init as WordPress asks.
 */
function voltbridge_wc_load_textdomain() {
	load_plugin_textdomain( 'voltbridge-woocommerce', false, dirname( plugin_basename( __FILE__ ) ) . '/languages' );
}
add_action( 'init', 'voltbridge_wc_load_textdomain' );

/**
 * Registers the blocks payment method once WooCommerce Blocks has loaded (absent on old WooCommerce).
 */
function voltbridge_wc_blocks_loaded() {
	if ( ! class_exists( \Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType::class ) ) {
		return;
	}
	require_once __DIR__ . '/includes/class-voltbridge-blocks.php';
	add_action( 'woocommerce_blocks_payment_method_type_registration', 'voltbridge_wc_register_blocks_method' );
}
add_action( 'woocommerce_blocks_loaded', 'voltbridge_wc_blocks_loaded' );

/**
 * @param \Automattic\WooCommerce\Blocks\Payments\PaymentMethodRegistry $registry The blocks' registry.
 */
function voltbridge_wc_register_blocks_method( $registry ) {
	$registry->register( new Voltbridge_Blocks_Payment_Method() );
}

/**
 * Loads the gateway once WooCommerce is loaded (plugins load in any order).
 */
function voltbridge_wc_init() {
	if ( ! class_exists( 'WC_Payment_Gateway' ) ) {
		return; // WooCommerce is not active: nothing to hook into.
	}
	require_once __DIR__ . '/includes/class-voltbridge-client.php';
	require_once __DIR__ . '/includes/class-voltbridge-webhook.php';
	require_once __DIR__ . '/includes/class-wc-gateway-voltbridge.php';
	require_once __DIR__ . '/includes/admin.php';

	add_filter( 'woocommerce_payment_gateways', 'voltbridge_wc_add_gateway' );
	add_filter( 'woocommerce_cancel_unpaid_order', 'voltbridge_wc_keep_payable_order', 10, 2 );
	add_action( 'admin_post_voltbridge_test_connection', 'voltbridge_wc_test_connection' );
	add_action( 'admin_notices', 'voltbridge_wc_admin_notice' );
	add_action( 'admin_notices', 'voltbridge_wc_currency_notice' );
}
add_action( 'plugins_loaded', 'voltbridge_wc_init', 11 );

/**
 * Registers the gateway with WooCommerce.
 *
 * @param array $gateways Gateway class names.
 * @return array
 */
function voltbridge_wc_add_gateway( $gateways ) {
	$gateways[] = 'WC_Gateway_Voltbridge';
	return $gateways;
}

/**
 * WooCommerce's "Hold stock" cron (wc_cancel_unpaid_orders) cancels pending orders after the hold minutes,
 * 60 by default, while a voltbridge invoice takes payments for hours: an order whose invoice is still open
 * stays pending (and its stock held) until the invoice expires. The gateway's invoice_expired webhook then
 * cancels it; if that webhook is lost, the next cron run does.
 *
 * @param bool     $cancel Whether WooCommerce would cancel the order.
 * @param WC_Order $order  The unpaid order.
 * @return bool
 */
function voltbridge_wc_keep_payable_order( $cancel, $order ) {
	if ( ! $cancel || ! is_object( $order ) || 'voltbridge' !== $order->get_payment_method() ) {
		return $cancel;
	}
	if ( '' === (string) $order->get_meta( Voltbridge_Webhook::META_INVOICE ) ) {
		return $cancel; // no invoice was made: nothing can still be paid
	}
	$expires_at = (int) $order->get_meta( Voltbridge_Webhook::META_EXPIRES_AT );
	return $expires_at > 0 && time() < $expires_at ? false : $cancel;
}
